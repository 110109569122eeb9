// x64 protocols: naive-jmp5 (unsafe on purpose), padding-short-jmp (Windows), int3-3step,
// stop-the-world. A site an earlier patch of the series already redirects is retargeted:
// padding-short-jmp through its address-table slot (one aligned 8-byte data store), the
// others by rewriting their jump the way they wrote it.
#include <fmt/format.h>

#include <cstring>
#include <limits>

#include "patch/CodeBuffer.h"
#include "patch/Protocol.h"

namespace hph {
namespace {

constexpr uint32_t kJump = 5;
constexpr uint32_t kShortJump = 2;
// The address-table stub in the site's scratch area: jmp [rip+2]; int3 int3; .quad target
// (the slot 8-aligned, so retargeting is one single-copy-atomic store).
constexpr uint32_t kSlotOffset = 8;
constexpr uint32_t kStubBytes = 16;

std::vector<uint8_t> jumpRel32(uint64_t from, uint64_t to) {
  const auto rel = static_cast<int32_t>(to - (from + kJump));
  std::vector<uint8_t> bytes{0xE9, 0, 0, 0, 0};
  std::memcpy(&bytes[1], &rel, 4);
  return bytes;
}

std::vector<uint8_t> addressTableStub(uint64_t target, bool clobberRcx) {
  // Defect stub-clobbers-rcx: xor ecx, ecx first (the first argument is lost).
  std::vector<uint8_t> out = clobberRcx ? std::vector<uint8_t>{0x31, 0xC9, 0xFF, 0x25, 0, 0, 0, 0}
                                        : std::vector<uint8_t>{0xFF, 0x25, kSlotOffset - 6, 0, 0, 0, 0xCC, 0xCC};
  const std::vector<uint8_t> slot = littleEndian64(target);
  out.insert(out.end(), slot.begin(), slot.end());
  return out;
}

bool reaches(uint64_t from, uint64_t to) {
  const auto rel = static_cast<int64_t>(to - (from + kJump));
  return rel >= std::numeric_limits<int32_t>::min() && rel <= std::numeric_limits<int32_t>::max();
}

}  // namespace

Result<std::vector<Step>> x64Steps(ProtocolKind protocol, const PatchSite& site, bool reverse,
                                   const ProtocolOptions& options) {
  const ProtocolDefect defect = options.defect;
  auto refuse = [&](std::string why) -> Error { return refusal(fmt::format("function '{}': {}", site.name, why)); };
  // Bytes that do not decode are bad input, whatever the protocol would need of them.
  auto malformed = [&](std::string why) -> Error { return badInput(fmt::format("function '{}': {}", site.name, why)); };
  auto at = [&](int64_t offset) { return fmt::format("{}{:+#x}", site.name, offset); };
  const std::vector<uint8_t>& code = site.code;
  // Where the site points after these steps, and where it pointed before them.
  const uint64_t to = reverse ? site.previous.value_or(0) : site.replacement;
  std::vector<Step> steps;

  if (protocol == ProtocolKind::kPaddingShortJmp) {
    // e9 rel32 in the padding jumps to an address-table stub past the image's end, which
    // jumps through its slot; then eb f9 over a whole first instruction of >= 2 bytes
    // (one aligned 2-byte store). A later patch only stores the slot.
    const uint64_t slot = site.scratch + kSlotOffset;
    if (site.previous) {
      steps.push_back(StoreStep{
          .address = slot, .bytes = littleEndian64(to), .label = "address table slot", .live = true, .data = true});
      return steps;
    }
    const DecodedInstruction first = x64Arch().decode(code, site.entry);
    const EntryPatchability p = x64Arch().entryPatchability(site.before, code, site.entry);
    if (options.staticChecks && p.paddingBefore < kJump)
      return refuse(fmt::format("{} bytes of int3/nop padding before the entry; the 5-byte jump needs {}",
                                p.paddingBefore, kJump));
    if (!first.valid) return malformed(fmt::format("first instruction '{}' does not decode", first.text));
    if (options.staticChecks && first.length < kShortJump)
      return refuse(fmt::format("first instruction '{}' is {} byte; eb f9 must replace a whole instruction of "
                                "at least 2",
                                first.text, first.length));
    if (!reaches(site.entry - kJump, site.scratch))
      return refuse(fmt::format("address table at {:#x} is out of the padding jump's +-2 GiB reach", site.scratch));
    if (site.before.size() < kJump || code.size() < kShortJump)
      return refuse("not even 5 bytes before the entry and 2 in the function to write to");
    const std::vector<uint8_t> padding(site.before.end() - kJump, site.before.end());
    if (!reverse) {
      steps.push_back(StoreStep{.address = site.scratch,
                                .bytes = addressTableStub(site.replacement, defect == ProtocolDefect::kStubClobbersRcx),
                                .label = "address table",
                                .live = true});
      steps.push_back(StoreStep{.address = site.entry - kJump,
                                .bytes = jumpRel32(site.entry - kJump, site.scratch),
                                .label = at(-5),
                                .live = true});
      if (defect != ProtocolDefect::kNoShortJmp)
        steps.push_back(StoreStep{.address = site.entry, .bytes = {0xEB, 0xF9}, .label = at(0), .live = true});
    } else {
      steps.push_back(StoreStep{.address = site.entry, .bytes = {code[0], code[1]}, .label = at(0), .live = true});
      // A thread that took eb f9 just before may still be on the padding jump or the stub.
      if (defect != ProtocolDefect::kNoRelease) {
        steps.push_back(ReleaseStep{.address = site.entry - kJump, .size = kJump, .label = at(-5)});
        steps.push_back(ReleaseStep{.address = site.scratch, .size = kStubBytes, .label = "address table"});
      }
      steps.push_back(StoreStep{.address = site.entry - kJump, .bytes = padding, .label = at(-5), .live = true});
    }
    return steps;
  }

  if (code.size() < kJump)
    return refuse(fmt::format("function is {} bytes, shorter than the 5-byte patch", code.size()));
  if (!reverse && !reaches(site.entry, site.replacement))
    return refuse(fmt::format("replacement at {:#x} is out of the jump's +-2 GiB reach (padding-short-jmp "
                              "goes through an address table)",
                              site.replacement));
  const std::vector<uint8_t> original(code.begin(), code.begin() + kJump);
  // Unpatching the first patch of a series restores the original bytes exactly.
  const std::vector<uint8_t> target = reverse && !site.previous ? original : jumpRel32(site.entry, to);

  if (protocol == ProtocolKind::kNaiveJmp5) {
    steps.push_back(StoreStep{.address = site.entry, .bytes = target, .label = at(0), .live = true});
    return steps;
  }
  if (protocol == ProtocolKind::kInt3ThreeStep) {
    // int3 on the first byte; the tail while every thread that reaches it traps; the
    // first byte last. A thread at the int3 continues with old or new semantics. Only
    // sound when the 5 bytes are one instruction: a thread stopped on a later boundary
    // inside them would resume in the new tail.
    const DecodedInstruction first = x64Arch().decode(code, site.entry);
    if (!site.previous && !first.valid)
      return malformed(fmt::format("first instruction '{}' does not decode", first.text));
    if (options.staticChecks && !site.previous && first.length < kJump)
      return refuse(fmt::format("first instruction '{}' is {} bytes; int3-3step replaces one whole "
                                "instruction of at least 5",
                                first.text, first.length));
    const bool sync = defect != ProtocolDefect::kNoSync;
    steps.push_back(StoreStep{.address = site.entry, .bytes = {0xCC}, .label = at(0), .live = true});
    if (sync) steps.push_back(SyncAllStep{.label = "after the int3"});
    steps.push_back(StoreStep{
        .address = site.entry + 1, .bytes = {target.begin() + 1, target.end()}, .label = at(1), .live = true});
    if (sync) steps.push_back(SyncAllStep{.label = "after the tail"});
    steps.push_back(StoreStep{.address = site.entry, .bytes = {target[0]}, .label = at(0), .live = true});
    if (sync) steps.push_back(SyncAllStep{.label = "after the first byte"});
    return steps;
  }
  // stop-the-world: every thread suspended; those inside the span move to the trampoline
  // (a retarget replaces one jmp, which no thread can be inside of).
  if (site.previous) {
    steps.push_back(SuspendAllStep{});
    steps.push_back(StoreStep{.address = site.entry, .bytes = target, .label = at(0), .live = true});
    steps.push_back(ResumeAllStep{});
    return steps;
  }
  TrampolineRequest request{.functionAddress = site.entry,
                            .function = code,
                            .patchBytes = kJump,
                            .trampolineAddress = site.scratch,
                            .btiGuarded = false,
                            .callsReturnIntoTrampoline =
                                protocolInfo(ProtocolKind::kStopTheWorld).callsReturnIntoTrampoline};
  if (defect == ProtocolDefect::kWrongRipFixup) request.ripFixupError = 8;
  const Relocation relocation = x64Relocator().relocate(request);
  if (!relocation.trampoline) return relocation.malformed ? malformed(relocation.refusal) : refuse(relocation.refusal);
  const Trampoline& t = *relocation.trampoline;
  if (!reverse) steps.push_back(StoreStep{.address = t.address, .bytes = t.bytes, .label = "trampoline", .live = true});
  steps.push_back(SuspendAllStep{});
  if (!reverse && defect != ProtocolDefect::kNoMovePc)
    steps.push_back(MovePcStep{.from = site.entry,
                               .size = t.displacedBytes,
                               .to = t.address,
                               .boundaries = t.boundaries,
                               .label = "into the trampoline"});
  steps.push_back(StoreStep{.address = site.entry, .bytes = target, .label = at(0), .live = true});
  steps.push_back(ResumeAllStep{});
  if (reverse) appendTrampolineFree(steps, t, 0xCC, defect != ProtocolDefect::kNoRelease);  // int3
  return steps;
}

}  // namespace hph
