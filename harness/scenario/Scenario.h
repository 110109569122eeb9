// Scenario files (TOML, paths relative to the file): what to run, how many threads, what
// the patcher does, what must hold, and how to explore. See docs/scenarios.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "emu/core/Arch.h"
#include "emu/hybrid/HybridProcess.h"
#include "harness/scenario/Verdict.h"
#include "patch/PatchLayout.h"
#include "patch/ProtocolRegistry.h"
#include "plan/Property.h"
#include "support/Result.h"

namespace hph {

enum class StrategyKind { kRandom, kPct, kExhaustive };
// Where the scheduler may switch actors: before every instruction, before every watched
// one, or before the watched ones another actor's step can observe (emu/core/VisiblePoints.h).
enum class PointsMode { kAll, kWatched, kVisible };
// How the exhaustive search avoids schedules that only reorder independent transitions
// (docs/design.md, "Reductions"): none, sleep sets, or dynamic partial-order reduction
// with sleep sets.
enum class Reduction { kNone, kSleepSets, kDpor };

std::string_view strategyName(StrategyKind kind);
std::string_view pointsModeName(PointsMode mode);
std::optional<PointsMode> parsePointsMode(std::string_view text);
std::optional<StrategyKind> parseStrategy(std::string_view text);
std::string_view reductionName(Reduction reduction);
std::optional<Reduction> parseReduction(std::string_view text);

// A raw store the patcher makes (a scheduling event), instead of a patch.
struct HostWrite {
  std::string target;  // "bump", "bump+4", "rva:0x1020+2"
  std::vector<uint8_t> bytes;
};

inline constexpr uint64_t kDefaultSampledSchedules = 1000;
inline constexpr uint64_t kDefaultExhaustiveCap = 1'000'000;

// One function a patch replaces (explicit map), and what the checkers may assume of it.
struct FunctionMap : FunctionRedirect {
  bool pure = false;  // results depend on arguments only (C5 compares old and new)
  // Hybrid scenarios: exports whose calls must reach the replacement too (H1 calls each,
  // as an x64 caller, with [chpe] call_args): a caller the compiler inlined the target
  // into does not, and is named.
  std::vector<std::string> callers;
};

struct ExploreSettings {
  StrategyKind strategy = StrategyKind::kRandom;
  std::optional<uint64_t> schedules;  // random/pct: how many; exhaustive: a cap (defaults below)
  uint32_t preemptionBound = 2;       // exhaustive
  uint64_t seed = 1;
  std::optional<PointsMode> points;  // default: visible when anything is watched, else all
  std::vector<std::string> watch;    // functions whose instructions are scheduling points
  uint32_t depth = 3;                // pct
  uint32_t jobs = 0;                 // 0: every CPU this process may use
  double maxTime = 0;                // seconds; 0: no limit
  uint32_t window = 16;              // bytes watched around each patch site
  Reduction reduction = Reduction::kDpor;
  double switchProbability = 0.25;  // random: chance of a preemption at each point
  // exhaustive: resume runs from checkpoints instead of re-executing their prefix (the
  // same schedules and verdicts either way; off is the reference the tests compare with).
  bool checkpoints = true;
  // exhaustive with dpor or sleep sets: LOCK adds to one word whose other results the
  // thread never observes commute (the same verdicts; off is the reference).
  bool atomicAddsCommute = true;

  // The schedules to run (random, pct) or the cap (exhaustive): the count given, else
  // the strategy's default.
  uint64_t scheduleLimit() const {
    return schedules.value_or(strategy == StrategyKind::kExhaustive ? kDefaultExhaustiveCap : kDefaultSampledSchedules);
  }
};

// Arm64's instruction-fetch model (docs/properties.md).
struct Arm64FetchSettings {
  bool idc = false;           // CTR_EL0.IDC: no DC CVAU needed before IC IVAU
  bool dic = false;           // CTR_EL0.DIC: instruction fetch coherent with data stores
  bool fetchCoherent = true;  // a thread never fetches an older version than it already did
  bool model = true;          // false: fetch is coherent (the emulator's own behaviour)
};

struct Scenario {
  std::string path;  // as given; messages start with it
  std::string directory;
  std::string name;
  ArchKind arch = ArchKind::kX64;
  std::string base;  // resolved path of the base image
  uint32_t threadCount = 1;
  std::string threadEntry;
  uint64_t stackBytes = 64 * 1024;
  // Instructions per thread; more is a runaway. Large, because fast mode bounds threads
  // by budget / 50 G instructions per second of wall time before it counts exactly.
  uint64_t threadBudget = 1'000'000'000;
  std::optional<std::string> invariant;
  // [onhost]: exports that count, at the end of an on-host run, the calls of the patched
  // functions (`calls`) and those that ran the new code (`new_calls`, in the base or a
  // patch image): how hph onhost tells old calls from new (docs/onhost.md).
  std::optional<std::string> onHostCalls, onHostNewCalls;
  Verdict expect;  // [check] expect: holds (default), violation:<property>, refused or vacuous
  std::vector<HostWrite> hostWrites;
  // Resolved paths of the patch images, applied in order: one image, or a cumulative
  // series (each carrying its own table, each over the one before).
  std::vector<std::string> patches;
  std::optional<uint64_t> patchAddress;  // where the first patch image loads (default: after the base)
  // Where the base image lies (default: its preferred base). Not a scenario key: `hph onhost`
  // sets it when the host runner finds the preferred base taken, and the whole layout (the
  // hotpatch area, the patch images, patch_address) moves with it.
  std::optional<uint64_t> baseAddress;
  std::vector<FunctionMap> functions;
  std::optional<ProtocolKind> protocol;           // [protocol] name; present whenever there are patches
  bool reverse = false;                           // [protocol] reverse: unpatch after the patch
  ProtocolDefect defect = ProtocolDefect::kNone;  // [protocol] defect: a deliberately broken variant (canaries)
  bool staticChecks = true;                       // [check] static_checks: protocols refuse bad preconditions early
  std::vector<Property> ignore;                   // [check] ignore: properties not reported (X2, ...)
  Arm64FetchSettings arm64;
  ExploreSettings explore;
  // [chpe] restriction: Windows' HotPatchRestrictions=1 (CHPE disabled for hotpatching): a
  // patch to an image with CHPE metadata, or from one, is refused (H5).
  bool chpeRestriction = false;
  // arch = "arm64ec": the base is a hybrid image, patched at `hybridSite` of each function
  // ([protocol] site); `arch` is then the instruction set of the protocol's code. No
  // threads: H1-H4 are checked by one serial run (harness/HybridCheck).
  bool hybrid = false;
  HybridSite hybridSite = HybridSite::kNative;
  // [chpe] call_args: the arguments H1's calls pass (each entry path, each declared caller).
  std::vector<uint64_t> chpeCallArgs = {1, 2, 3, 4};
  // [chpe] stale_engine: a deliberately broken engine that keeps translations of the code a
  // store replaced (the H4 canary; docs/properties.md).
  hybrid::StaleEngine staleEngine = hybrid::StaleEngine::kNone;

  // "x64", "arm64" or "arm64ec", for reports.
  std::string_view archText() const { return hybrid ? "arm64ec" : archOf(arch).name(); }
  // For reports and messages: the protocol's name, "" when there is none.
  std::string_view protocolText() const { return protocol ? protocolName(*protocol) : ""; }
};

Result<Scenario> loadScenario(const std::string& path);

}  // namespace hph
