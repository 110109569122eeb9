// Arm64 protocols: b-direct, veneer, literal-swap, stop-the-world. Instructions become
// visible to other cores through cache maintenance (DC CVAU, DSB ISH, IC IVAU, DSB ISH)
// and their context synchronisation; the fetch model checks that, the plan states it.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "patch/CodeBuffer.h"
#include "patch/Protocol.h"

namespace hph {
namespace {

constexpr uint32_t kLdrX16Plus8 = 0x58000050;    // ldr x16, #8
constexpr uint32_t kBrX16 = 0xD61F0200;          // br x16
constexpr uint32_t kVeneerBytes = 16;            // ldr x16, #8; br x16; .quad target
constexpr uint64_t kBReach = uint64_t{1} << 27;  // +-128 MiB

std::vector<uint8_t> words(std::initializer_list<uint32_t> list) {
  std::vector<uint8_t> out(list.size() * 4);
  size_t i = 0;
  for (uint32_t w : list) std::memcpy(&out[4 * i++], &w, 4);
  return out;
}

bool reaches(uint64_t from, uint64_t to) {
  const auto offset = static_cast<int64_t>(to - from);
  return offset % 4 == 0 && offset >= -static_cast<int64_t>(kBReach) && offset < static_cast<int64_t>(kBReach);
}

std::vector<uint8_t> branch(uint64_t from, uint64_t to) {
  const auto offset = static_cast<int64_t>(to - from);
  return words({0x14000000u | static_cast<uint32_t>((offset >> 2) & 0x3FFFFFF)});
}

// ldr xR, #8; br xR; .quad target. R is x16 (IP0, free at a call boundary); the
// veneer-clobbers-x0 defect uses x0, the first argument.
std::vector<uint8_t> veneer(uint64_t target, uint32_t reg = 16) {
  std::vector<uint8_t> out = words({(kLdrX16Plus8 & ~0x1Fu) | reg, (kBrX16 & ~0x3E0u) | reg << 5});
  const std::vector<uint8_t> literal = littleEndian64(target);
  out.insert(out.end(), literal.begin(), literal.end());
  return out;
}

}  // namespace

Result<std::vector<Step>> arm64Steps(ProtocolKind protocol, const PatchSite& site, bool reverse,
                                     const ProtocolOptions& options) {
  const ProtocolDefect defect = options.defect;
  auto maintain = [&](uint64_t address, uint64_t size, std::string label) -> Step {
    return CacheMaintenanceStep{.address = address,
                                .size = size,
                                .label = std::move(label),
                                .cleanData = !options.idc,
                                .invalidateInstructions = !options.dic};
  };
  // After the entry's new branch is visible, every thread context-synchronises, so none
  // keeps fetching the old entry (C8: after the plan, every call is new).
  const SyncAllStep syncEntry{"so every thread fetches the new entry"};
  auto refuse = [&](std::string why) -> Error { return refusal(fmt::format("function '{}': {}", site.name, why)); };
  // An unaligned entry is bad input (docs/design.md, "Exit codes"), not a refusal.
  auto malformed = [&](std::string why) -> Error { return badInput(fmt::format("function '{}': {}", site.name, why)); };
  auto at = [&](int64_t offset) { return fmt::format("{}{:+#x}", site.name, offset); };
  if (site.entry % 4) return malformed("entry is not 4-byte aligned");
  if (site.code.size() < 4) return refuse("function is shorter than the 4-byte patch");
  const std::vector<uint8_t> original(site.code.begin(), site.code.begin() + 4);
  // Where the site points after these steps (a retarget of an earlier patch goes back to
  // that patch's function when reversed).
  const uint64_t to = reverse ? site.previous.value_or(0) : site.replacement;
  const bool restoring = reverse && !site.previous;  // the original bytes come back
  std::vector<Step> steps;

  if (protocol == ProtocolKind::kBDirect) {
    if (!restoring && !reaches(site.entry, to))
      return refuse(fmt::format("replacement at {:#x} is out of B's +-128 MiB reach (use veneer)", to));
    steps.push_back(StoreStep{
        .address = site.entry, .bytes = restoring ? original : branch(site.entry, to), .label = at(0), .live = true});
    steps.push_back(maintain(site.entry, 4, at(0)));
    if (defect != ProtocolDefect::kNoSync) steps.push_back(syncEntry);
    return steps;
  }
  if (protocol == ProtocolKind::kVeneer) {
    // The veneer goes into the padding before the function when there is room (lld pads
    // with udf #0), else into the plan's scratch area; either must be within B's reach.
    // Its literal is read as data: a later patch retargets it with one 64-bit store.
    const bool padded =
        site.before.size() >= kVeneerBytes &&
        std::all_of(site.before.end() - kVeneerBytes, site.before.end(), [](uint8_t b) { return b == 0; }) &&
        (site.entry - kVeneerBytes) % 8 == 0;
    const uint64_t where = padded ? site.entry - kVeneerBytes : site.scratch;
    const std::string label = padded ? at(-16) : "veneer";
    if (site.previous) {
      steps.push_back(StoreStep{
          .address = where + 8, .bytes = littleEndian64(to), .label = label + " literal", .live = true, .data = true});
      return steps;
    }
    if (!reaches(site.entry, where)) return refuse(fmt::format("veneer at {:#x} is out of B's reach", where));
    if (!reverse) {
      const std::vector<Step> writeVeneer = {
          StoreStep{.address = where,
                    .bytes = veneer(site.replacement, defect == ProtocolDefect::kVeneerClobbersX0 ? 0 : 16),
                    .label = label,
                    .live = true},
          maintain(where, kVeneerBytes, "veneer")};
      const std::vector<Step> writeBranch = {
          StoreStep{.address = site.entry, .bytes = branch(site.entry, where), .label = at(0), .live = true},
          maintain(site.entry, 4, at(0))};
      const bool branchFirst = defect == ProtocolDefect::kBranchBeforeVeneer;
      for (const auto* part : {branchFirst ? &writeBranch : &writeVeneer, branchFirst ? &writeVeneer : &writeBranch})
        for (const Step& step : *part)
          if (!(defect == ProtocolDefect::kNoVeneerMaintenance && part == &writeVeneer &&
                std::holds_alternative<CacheMaintenanceStep>(step)))
            steps.push_back(step);
      steps.push_back(syncEntry);
    } else {
      steps.push_back(StoreStep{.address = site.entry, .bytes = original, .label = at(0), .live = true});
      steps.push_back(maintain(site.entry, 4, at(0)));
      steps.push_back(syncEntry);
      steps.push_back(ReleaseStep{.address = where, .size = kVeneerBytes, .label = "veneer"});
      // The padding goes back to what the linker wrote (reverse restores bytes exactly).
      if (padded) {
        steps.push_back(StoreStep{.address = where,
                                  .bytes = {site.before.end() - kVeneerBytes, site.before.end()},
                                  .label = label,
                                  .live = true});
        steps.push_back(maintain(where, kVeneerBytes, "veneer"));
      }
    }
    return steps;
  }

  // literal-swap and stop-the-world keep the original reachable through a trampoline.
  TrampolineRequest request{.functionAddress = site.entry,
                            .function = site.code,
                            .patchBytes = 4,
                            .trampolineAddress = site.scratch,
                            .btiGuarded = false};
  const Relocation relocation = arm64Relocator().relocate(request);
  if (!relocation.trampoline) return relocation.malformed ? malformed(relocation.refusal) : refuse(relocation.refusal);
  const Trampoline& t = *relocation.trampoline;
  if (t.bytes.size() > 32) return refuse("trampoline does not fit the 32 bytes the plan sets aside");

  if (protocol == ProtocolKind::kLiteralSwap) {
    // entry: B indirection; indirection: ldr x16, slot; br x16; slot: an aligned 64-bit
    // literal holding the trampoline (old code) until the patch, one 64-bit data store,
    // makes it the replacement.
    const uint64_t indirection = site.scratch + 32, slot = site.scratch + 40;
    if (!reaches(site.entry, indirection)) return refuse("indirection is out of B's reach");
    if (!reverse && !site.previous) {
      steps.push_back(StoreStep{.address = t.address, .bytes = t.bytes, .label = "trampoline", .live = true});
      steps.push_back(StoreStep{
          .address = slot, .bytes = littleEndian64(t.address), .label = "literal", .live = true, .data = true});
      steps.push_back(StoreStep{
          .address = indirection, .bytes = words({kLdrX16Plus8, kBrX16}), .label = "indirection", .live = true});
      steps.push_back(maintain(site.scratch, 48, "trampoline and indirection"));
      steps.push_back(
          StoreStep{.address = site.entry, .bytes = branch(site.entry, indirection), .label = at(0), .live = true});
      steps.push_back(maintain(site.entry, 4, at(0)));
      steps.push_back(syncEntry);
    }
    const std::vector<uint8_t> value = littleEndian64(restoring ? t.address : to);
    const std::string label = restoring ? "literal (the unpatch)" : "literal (the patch)";
    if (defect == ProtocolDefect::kLiteralInHalves) {
      // Two 32-bit stores: a thread may load half an old and half a new address.
      steps.push_back(StoreStep{.address = slot,
                                .bytes = {value.begin(), value.begin() + 4},
                                .label = label + " low half",
                                .live = true,
                                .data = true});
      steps.push_back(StoreStep{.address = slot + 4,
                                .bytes = {value.begin() + 4, value.end()},
                                .label = label + " high half",
                                .live = true,
                                .data = true});
    } else {
      steps.push_back(StoreStep{.address = slot, .bytes = value, .label = label, .live = true, .data = true});
    }
    return steps;
  }
  // stop-the-world
  if (!restoring && !reaches(site.entry, to))
    return refuse(fmt::format("replacement at {:#x} is out of B's +-128 MiB reach", to));
  const bool firstPatch = !reverse && !site.previous;
  if (firstPatch) {
    steps.push_back(StoreStep{.address = t.address, .bytes = t.bytes, .label = "trampoline", .live = true});
    steps.push_back(maintain(t.address, t.bytes.size(), "trampoline"));
  }
  steps.push_back(SuspendAllStep{});
  if (firstPatch)
    steps.push_back(MovePcStep{.from = site.entry,
                               .size = t.displacedBytes,
                               .to = t.address,
                               .boundaries = t.boundaries,
                               .label = "into the trampoline"});
  steps.push_back(StoreStep{
      .address = site.entry, .bytes = restoring ? original : branch(site.entry, to), .label = at(0), .live = true});
  steps.push_back(maintain(site.entry, 4, at(0)));
  steps.push_back(SyncAllStep{.label = "before resuming"});
  steps.push_back(ResumeAllStep{});
  if (reverse && !site.previous) appendTrampolineFree(steps, t, 0x00, defect != ProtocolDefect::kNoRelease);  // udf #0
  return steps;
}

}  // namespace hph
