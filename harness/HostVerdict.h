// What a run on the host shows, judged in this order: a guest fault in a real thread; the
// scenario's invariant returning 0; a patched byte on the host that is not the emulator's
// (after the same plan alone); no call begun before or none after the plan (vacuous:
// the patch was not applied under load). Otherwise it holds.
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

// `emulatorBytes`: the emulator's bytes over the result's read-back ranges (empty: none to
// compare, the plan alone already breaks a property there). `describer` names fault PCs.
HostVerdict judgeHostRun(const ScenarioInputs& in, const HostResult& result,
                         const std::vector<HostRegion>& emulatorBytes, const Machine* describer);

}  // namespace hph
