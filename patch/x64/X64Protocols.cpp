// x64 protocols: naive-jmp5 (unsafe on purpose), padding-short-jmp (Windows), int3-3step,
// stop-the-world.
#include <fmt/format.h>

#include <cstring>
#include <limits>

#include "patch/Protocol.h"

namespace hph {
namespace {

constexpr uint32_t kJump = 5;
constexpr uint32_t kShortJump = 2;

std::vector<uint8_t> jumpRel32(uint64_t from, uint64_t to) {
  const auto rel = static_cast<int32_t>(to - (from + kJump));
  std::vector<uint8_t> bytes{0xE9, 0, 0, 0, 0};
  std::memcpy(&bytes[1], &rel, 4);
  return bytes;
}

bool reaches(uint64_t from, uint64_t to) {
  const auto rel = static_cast<int64_t>(to - (from + kJump));
  return rel >= std::numeric_limits<int32_t>::min() && rel <= std::numeric_limits<int32_t>::max();
}

}  // namespace

Result<std::vector<Step>> x64Steps(std::string_view protocol, const PatchSite& site, bool reverse) {
  auto refuse = [&](std::string why) -> Error { return badInput(fmt::format("function '{}': {}", site.name, why)); };
  auto at = [&](int64_t offset) { return fmt::format("{}{:+#x}", site.name, offset); };
  const std::vector<uint8_t>& code = site.code;
  std::vector<Step> steps;

  if (protocol == "padding-short-jmp") {
    // e9 rel32 into the padding first (nothing jumps there yet), then eb f9 over a whole
    // first instruction of >= 2 bytes: one aligned 2-byte store.
    const DecodedInstruction first = x64Arch().decode(code, site.entry);
    const EntryPatchability p = x64Arch().entryPatchability(site.before, code, site.entry);
    if (p.paddingBefore < kJump)
      return refuse(fmt::format("{} bytes of int3/nop padding before the entry; the 5-byte jump needs {}",
                                p.paddingBefore, kJump));
    if (!first.valid || first.length < kShortJump)
      return refuse(fmt::format("first instruction '{}' is {} byte; eb f9 must replace a whole instruction of "
                                "at least 2", first.text, first.length));
    if (!reaches(site.entry - kJump, site.replacement))
      return refuse(fmt::format("replacement at {:#x} is out of the jump's +-2 GiB reach", site.replacement));
    const std::vector<uint8_t> padding(site.before.end() - kJump, site.before.end());
    if (!reverse) {
      steps.push_back(StoreStep{site.entry - kJump, jumpRel32(site.entry - kJump, site.replacement), at(-5), false});
      steps.push_back(StoreStep{site.entry, {0xEB, 0xF9}, at(0), true});
    } else {
      steps.push_back(StoreStep{site.entry, {code[0], code[1]}, at(0), true});
      steps.push_back(StoreStep{site.entry - kJump, padding, at(-5), false});
    }
    return steps;
  }

  if (code.size() < kJump)
    return refuse(fmt::format("function is {} bytes, shorter than the 5-byte patch", code.size()));
  if (!reaches(site.entry, site.replacement))
    return refuse(fmt::format("replacement at {:#x} is out of the jump's +-2 GiB reach", site.replacement));
  const std::vector<uint8_t> jump = jumpRel32(site.entry, site.replacement);
  const std::vector<uint8_t> original(code.begin(), code.begin() + kJump);
  const std::vector<uint8_t>& target = reverse ? original : jump;

  if (protocol == "naive-jmp5") {
    steps.push_back(StoreStep{site.entry, target, at(0), true});
    return steps;
  }
  if (protocol == "int3-3step") {
    // int3 on the first byte; the tail while every thread that reaches it traps; the
    // first byte last. A thread at the int3 continues with old or new semantics. Only
    // sound when the 5 bytes are one instruction: a thread stopped on a later boundary
    // inside them would resume in the new tail.
    const DecodedInstruction first = x64Arch().decode(code, site.entry);
    if (!first.valid || first.length < kJump)
      return refuse(fmt::format("first instruction '{}' is {} bytes; int3-3step replaces one whole "
                                "instruction of at least 5", first.text, first.length));
    steps.push_back(StoreStep{site.entry, {0xCC}, at(0), true});
    steps.push_back(SyncAllStep{"after the int3"});
    steps.push_back(StoreStep{site.entry + 1, {target.begin() + 1, target.end()}, at(1), true});
    steps.push_back(SyncAllStep{"after the tail"});
    steps.push_back(StoreStep{site.entry, {target[0]}, at(0), true});
    steps.push_back(SyncAllStep{"after the first byte"});
    return steps;
  }
  // stop-the-world: every thread suspended; those inside the span move to the trampoline.
  TrampolineRequest request{site.entry, code, kJump, site.scratch, false};
  const Relocation relocation = x64Relocator().relocate(request);
  if (!relocation.trampoline) return refuse(relocation.refusal);
  const Trampoline& t = *relocation.trampoline;
  if (!reverse) steps.push_back(StoreStep{t.address, t.bytes, "trampoline", false});
  steps.push_back(SuspendAllStep{});
  if (!reverse) steps.push_back(MovePcStep{site.entry, t.displacedBytes, t.address, t.boundaries, "into the trampoline"});
  steps.push_back(StoreStep{site.entry, target, at(0), true});
  steps.push_back(ResumeAllStep{});
  return steps;
}

}  // namespace hph
