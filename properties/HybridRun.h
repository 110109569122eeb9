// The serial run of a plan over a hybrid process (`hph check` on arch = "arm64ec"): the
// patched base, the hotpatch area and the patch images loaded as a process with both
// engines; every entry path of every patched function called before the plan, after each
// of its stores and after the plan, each call stopped where it reaches the replacement or
// the old body. One thread: what this decides is which code each path reaches (H1) and
// whether both engines run what memory holds (H4), not how the plan interleaves with
// running threads (docs/design.md, CHPE).
// - H1: after the plan, every path (and every declared caller) reaches the replacement
//   (a patch and its unpatch: the replacement after the patch, the original body after
//   the unpatch).
// - H4: after every store, each path reaches what it reaches in a fresh process (no
//   translation of its own) holding the same memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emu/hybrid/HybridProcess.h"
#include "patch/PatchLayout.h"
#include "plan/Plan.h"
#include "properties/EntryPaths.h"
#include "properties/HybridStoreChecks.h"

namespace hph {

struct HybridRunSetup {
  const PeImage* base = nullptr;
  const PatchLayout* layout = nullptr;
  const Plan* plan = nullptr;
  ArchKind planArch = ArchKind::kArm64;                  // the plan's code: which engine runs the hotpatch area
  std::vector<uint64_t> args;                            // what every call passes
  std::vector<std::vector<NamedEntry>> declaredCallers;  // per site
  hybrid::StaleEngine stale = hybrid::StaleEngine::kNone;
  // The plan patches and then unpatches ([protocol] reverse), its first `patchSteps` steps
  // being the patch: after them every path must reach the replacement, and after the whole
  // plan the original code again.
  bool reverse = false;
  size_t patchSteps = 0;
};

enum class PathReach : uint8_t { kNew, kOld, kNeither, kFault };
std::string_view pathReachName(PathReach reach);

struct PathOutcome {
  size_t site = 0;  // in layout order
  EntryPath path;
  PathReach reach = PathReach::kNeither;
  bool onArm64 = false;  // the engine that reached it
  std::string detail;    // kFault: the fault
};

struct HybridRunResult {
  std::vector<PathOutcome> before, after;  // every path, before the plan and after it
  std::vector<PathOutcome> patched;        // with reverse: after the patch, before its unpatch
  std::vector<HybridFinding> findings;     // H1 and H4
  uint64_t stores = 0;                     // stores applied (code and data)
  uint64_t calls = 0;                      // path calls made (fresh processes' included)
};

Result<HybridRunResult> runHybridPlan(const HybridRunSetup& setup);

}  // namespace hph
