// Trampolines built and checked per second, and the time to sweep the whole corpus
// (every function of every image, as `hph trampoline IMAGE --all` does).
#include <benchmark/benchmark.h>

#include <filesystem>

#include "emu/pe/PeImage.h"
#include "patch/Redirect.h"
#include "patch/TrampolineCheck.h"

namespace hph {
namespace {

std::string corpus(const std::string& path) { return std::string(HPH_CORPUS_DIR) + "/" + path; }

// Relocates and checks every function of `image`; returns how many were relocated.
uint64_t sweep(const PeImage& image, uint32_t states) {
  const Relocator& relocator = relocatorFor(*image.arch);
  const uint64_t trampolines = image.imageBase + ((image.sizeOfImage + 0xFFFF) & ~uint64_t{0xFFFF});
  uint64_t relocated = 0;
  for (size_t i = 0; i < image.functions.size(); ++i) {
    const FunctionInfo& f = image.functions[i];
    TrampolineRequest request;
    request.functionAddress = image.imageBase + f.begin;
    request.function = image.bytesAt(f.begin, f.end - f.begin);
    request.trampolineAddress = trampolines + i * 0x400;
    const auto redirect = redirectFor(relocator, defaultRedirectProtocol(image.arch->kind()), request.functionAddress,
                                      request.trampolineAddress);
    request.patchBytes = redirect->patchBytes;
    const Relocation r = relocator.relocate(request);
    if (!r.trampoline) continue;
    auto check = checkTrampoline(*image.arch, request, *r.trampoline, redirect->bytes, states);
    if (check && check->equivalent) ++relocated;
  }
  return relocated;
}

void BuildAndCheck(benchmark::State& state, const std::string& image) {
  auto pe = readPeImage(corpus("images/" + image));
  uint64_t trampolines = 0;
  for (auto _ : state) trampolines += sweep(*pe, 64);
  state.counters["trampolines/s"] = benchmark::Counter(static_cast<double>(trampolines), benchmark::Counter::kIsRate);
}

void CorpusSweep(benchmark::State& state) {
  std::vector<PeImage> images;
  for (const auto& entry : std::filesystem::directory_iterator(corpus("images")))
    images.push_back(std::move(readPeImage(entry.path().string())).value());
  uint64_t functions = 0;
  for (auto _ : state)
    for (const PeImage& image : images) functions += sweep(image, 64);
  state.counters["functions"] = static_cast<double>(functions / state.iterations());
}

BENCHMARK_CAPTURE(BuildAndCheck, basics_x64, std::string("basics.x64.dll"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BuildAndCheck, basics_arm64, std::string("basics.arm64.dll"))->Unit(benchmark::kMillisecond);
BENCHMARK(CorpusSweep)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hph

BENCHMARK_MAIN();
