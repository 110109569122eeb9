#include "harness/HostVerdict.h"

#include <fmt/format.h>

#include "harness/WorkerProcess.h"
#include "support/HexText.h"
#include "support/Status.h"

namespace hph {

HostVerdict judgeHostRun(const ScenarioInputs& in, const HostResult& r, const std::vector<HostRegion>& emulatorBytes,
                         const Machine* describer) {
  if (!r.faults.empty()) {
    const HostFault& f = r.faults.front();
    return {"violation:fault",
            fmt::format("thread {} faulted with {} at {}{}", f.thread, signalName(f.signal),
                        describer ? describer->describeAddress(f.pc) : fmt::format("{:#x}", f.pc),
                        describer ? ": " + describer->disassembleAt(f.pc) : ""),
            kExitViolated};
  }
  if (r.invariant && *r.invariant == 0)
    return {"violation:invariant", fmt::format("{}() returned 0 after every thread stopped", *in.scenario.invariant),
            kExitViolated};
  for (size_t i = 0; i < emulatorBytes.size() && i < r.finalBytes.size(); ++i)
    if (emulatorBytes[i].bytes != r.finalBytes[i].bytes)
      return {"violation:bytes",
              fmt::format("at {:#x} the host holds {} but the emulator ends with {}", emulatorBytes[i].address,
                          hexBytes(r.finalBytes[i].bytes), hexBytes(emulatorBytes[i].bytes)),
              kExitViolated};
  if (r.callsBeforePlan == 0 || r.callsAfterPlan == 0)
    return {"vacuous",
            fmt::format("{} calls began before the plan and {} after it: the patch was not applied under load",
                        r.callsBeforePlan, r.callsAfterPlan),
            kExitViolated};
  return {"holds", "", kExitHolds};
}

}  // namespace hph
