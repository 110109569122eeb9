// libFuzzer target: code a patch writes into a hybrid process (emu/hybrid/HybridProcess).
// The corpus's hybrid image loaded once; each input's first byte picks a place (an
// Arm64EC body, the word before it, an x64 entry, an entry thunk) and the rest is written
// there as code; then every hybrid function is called as an x64 caller and as an Arm64EC
// caller, with a small budget. Whatever the bytes, both engines must report faults and
// runaways as values: no crash, no abort, no sanitizer report. The memory is put back
// after each input (the same start every time).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "emu/hybrid/HybridProcess.h"
#include "emu/pe/PeImage.h"

namespace {

using hph::hybrid::Caller;
using hph::hybrid::HybridProcess;

struct Target {
  hph::PeImage image;
  std::unique_ptr<HybridProcess> process;
  hph::MemorySnapshot initial;
};

Target& target() {
  static Target* t = [] {
    auto* out = new Target;
    auto image = hph::readPeImage(HPH_CORPUS_DIR "/images/hybrid.arm64ec.dll");
    if (!image) std::abort();
    out->image = std::move(image).value();
    auto process = HybridProcess::create(out->image, std::nullopt);
    if (!process) std::abort();
    out->process = std::move(process).value();
    out->initial = out->process->machine().snapshot();
    return out;
  }();
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kMaxCode = 64;
  if (size < 2 || size > kMaxCode + 1) return 0;
  Target& t = target();
  const auto& functions = t.image.chpe->functions;
  const hph::HybridFunction& f = functions[(data[0] >> 2) % functions.size()];
  const uint64_t base = t.process->loaded().base;
  uint64_t at = 0;
  switch (data[0] & 3) {
  case 0: at = base + f.body; break;
  case 1: at = base + f.body - 4; break;  // the entry-thunk word
  case 2: at = base + f.fastForward; break;
  case 3: at = base + f.entryThunk; break;
  }
  t.process->writeCode(at, {data + 1, size - 1});
  const uint64_t args[] = {3, 4, 5, 6};
  const hph::CallOptions options{.instructionBudget = 20'000};
  for (const hph::HybridFunction& g : functions) {
    (void)t.process->call(Caller::kX64, base + g.fastForward, args, options);
    (void)t.process->call(Caller::kArm64ec, base + g.body, args, options);
  }
  // Back to the image as loaded; the code the input wrote is forgotten by both engines.
  t.process->machine().restore(t.initial);
  uint8_t original[kMaxCode];
  if (t.process->machine().readGuest(at, {original, size - 1})) t.process->writeCode(at, {original, size - 1});
  return 0;
}
