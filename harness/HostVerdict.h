// What a run on the host shows, judged in this order: a guest fault in a real thread; the
// scenario's invariant returning 0; a read-only byte that changed where no applied step
// stores (the write-set audit); a patched byte that is not what the expectation says (the
// emulator's after the same plan, or the plan's state after the steps a killed patcher
// got through); no call begun before or none after the plan (vacuous: the patch was not
// applied under load). Otherwise it holds.
#pragma once

#include <string>
#include <vector>

#include "emu/core/Machine.h"
#include "harness/scenario/PreparedScenario.h"
#include "host/HostJob.h"

namespace hph {

struct HostVerdict {
  std::string verdict;  // holds, violation:fault, violation:invariant, violation:bytes, vacuous
  std::string message;
  int exitCode = 0;
};

struct HostExpectation {
  // Over the result's read-back ranges (empty: nothing to compare, the plan alone already
  // breaks a property under emulation), and whose bytes they are, for the message.
  std::vector<HostRegion> bytes;
  std::string source = "the emulator ends with";
  std::vector<HostRange> stores;  // the ranges the applied steps store to
  // A reversed plan: the bytes before the patch, over the read-back ranges outside the
  // hotpatch area (scratch space, which the unpatch frees rather than restores).
  std::vector<HostRegion> original;
  // With [onhost] counters: which code calls begun after the plan's last step must run
  // (the new code; the old after a reversed plan), give or take one call in flight per
  // thread; a forward plan must also have seen old and new calls. nullopt: not judged (a
  // killed patcher, repeated applications).
  std::optional<bool> newAfterPlan;
  uint32_t threads = 0;
};

// `describer` names fault PCs (nullptr: addresses only).
HostVerdict judgeHostRun(const ScenarioInputs& in, const HostResult& result, const HostExpectation& expected,
                         const Machine* describer);

}  // namespace hph
