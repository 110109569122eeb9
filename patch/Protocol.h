// Protocols turn "redirect these functions" into a Plan. Each knows its preconditions
// and refuses (naming the function and why) when they do not hold.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "patch/ProtocolRegistry.h"
#include "patch/Trampoline.h"
#include "plan/Plan.h"
#include "support/Result.h"

namespace hph {

// One function to redirect, with what the protocols need to know about its surroundings.
struct PatchSite {
  std::string name;  // as the scenario names it (messages, labels)
  uint64_t entry = 0;
  std::vector<uint8_t> code;    // the function's bytes, entry to end
  std::vector<uint8_t> before;  // up to 16 bytes right before the entry (padding)
  uint64_t replacement = 0;     // the new function
  uint64_t scratch = 0;         // 0x100 bytes the plan may use (trampoline, veneer, address table)
  // A patch over a patch: the function an earlier patch of the series already redirects
  // this site to. The plan then only retargets the redirect (same scratch area).
  std::optional<uint64_t> previous;
};

inline constexpr uint64_t kScratchPerSite = 0x100;

struct ProtocolOptions {
  bool reverse = false;  // after the patch, undo it (restore the original bytes exactly)
  // false: skip the refusals a protocol makes from what it can see statically (a first
  // instruction too short, no padding), so the dynamic checks must catch what follows.
  bool staticChecks = true;
  // A deliberately broken variant, for canaries and for showing each checker fires
  // (docs/properties.md lists them); kNone for the protocol as designed.
  ProtocolDefect defect = ProtocolDefect::kNone;
  // Arm64 CTR_EL0 of the cores the patch is for: cache maintenance leaves out what they
  // do not need (IDC: DC CVAU; DIC: IC IVAU).
  bool idc = false;
  bool dic = false;
};

// The plan for all sites, site by site; a refusal is kBadInput "function 'bump': why".
// A protocol of another architecture, or a defect it does not have, is bad input.
Result<Plan> buildPlan(ProtocolKind protocol, const Arch& arch, const std::vector<PatchSite>& sites,
                       const ProtocolOptions& options = {});

// Stop-the-world's unpatch frees the trampoline: a release (wait until no thread is in it;
// left out by the no-release defect), then the trampoline filled with `fill` (the
// architecture's trapping padding).
void appendTrampolineFree(std::vector<Step>& steps, const Trampoline& trampoline, uint8_t fill, bool release);

// Per architecture (patch/x64, patch/arm64): the steps for one site, or why not.
Result<std::vector<Step>> x64Steps(ProtocolKind protocol, const PatchSite& site, bool reverse,
                                   const ProtocolOptions& options);
Result<std::vector<Step>> arm64Steps(ProtocolKind protocol, const PatchSite& site, bool reverse,
                                     const ProtocolOptions& options);

}  // namespace hph
