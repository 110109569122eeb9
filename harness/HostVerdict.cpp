#include "harness/HostVerdict.h"

#include <fmt/format.h>

#include <algorithm>

#include "harness/WorkerProcess.h"
#include "support/HexText.h"
#include "support/Status.h"

namespace hph {

HostVerdict judgeHostRun(const ScenarioInputs& in, const HostResult& r, const HostExpectation& expected,
                         const Machine* describer) {
  const std::vector<HostRegion>& emulatorBytes = expected.bytes;
  if (!r.faults.empty()) {
    const HostFault& f = r.faults.front();
    // A trapping import stub: the guest called an import the runner provides no native
    // shim for (host/NativeShims.h). Not a fault of the patch, nor a refusal of its
    // protocol (which `expect = "refused"` could take for an answer): input the host
    // cannot run.
    if (f.pc >= Machine::kShimBase && f.pc < Machine::kShimBase + Machine::kShimSlots * Machine::kShimSlotBytes)
      return {"bad-input",
              fmt::format("thread {} called {}, which the on-host runner has no native shim for (docs/shims.md)",
                          f.thread, describer ? describer->describeAddress(f.pc) : fmt::format("{:#x}", f.pc)),
              kExitBadInput};
    return {"violation:fault",
            fmt::format("thread {} faulted with {} at {}{}", f.thread, signalName(f.signal),
                        describer ? describer->describeAddress(f.pc) : fmt::format("{:#x}", f.pc),
                        describer ? ": " + describer->disassembleAt(f.pc) : ""),
            kExitViolated};
  }
  // Out of move-pc retries: the plan refused to go on (as under emulation, a refusal).
  if (!r.gaveUp.empty()) return {"refused", r.gaveUp, kExitBadInput};
  if (r.invariant && *r.invariant == 0)
    return {"violation:invariant", fmt::format("{}() returned 0 after every thread stopped", *in.scenario.invariant),
            kExitViolated};
  // Byte by byte: a run of changed bytes may span two adjacent stores.
  for (const HostRange& c : r.changed)
    for (uint64_t b = c.address; b < c.address + c.size; ++b) {
      const bool stored = std::any_of(expected.stores.begin(), expected.stores.end(),
                                      [&](const HostRange& s) { return b >= s.address && b < s.address + s.size; });
      if (!stored)
        return {"violation:stray-write",
                fmt::format("the byte at {} changed, but no applied step of the plan stores there",
                            describer ? describer->describeAddress(b) : fmt::format("{:#x}", b)),
                kExitViolated};
    }
  for (size_t i = 0; i < emulatorBytes.size() && i < r.finalBytes.size(); ++i)
    if (emulatorBytes[i].bytes != r.finalBytes[i].bytes)
      return {"violation:bytes",
              fmt::format("at {:#x} the host holds {} but {} {}", emulatorBytes[i].address,
                          hexBytes(r.finalBytes[i].bytes), expected.source, hexBytes(emulatorBytes[i].bytes)),
              kExitViolated};
  for (const HostRegion& before : expected.original)
    for (const HostRegion& after : r.finalBytes)
      if (after.address == before.address && after.bytes != before.bytes)
        return {"violation:bytes",
                fmt::format("after the reverse plan the host holds {} at {:#x}, but before the patch it held {}",
                            hexBytes(after.bytes), after.address, hexBytes(before.bytes)),
                kExitViolated};
  if (r.countersAfterPlan && r.countersAtEnd && expected.newAfterPlan) {
    // Calls begun after the plan was done: at most one per thread was already under way.
    const uint64_t calls = r.countersAtEnd->first - r.countersAfterPlan->first;
    const uint64_t fresh = r.countersAtEnd->second - r.countersAfterPlan->second;
    const uint64_t stale = *expected.newAfterPlan ? calls - std::min(calls, fresh) : fresh;
    if (stale > expected.threads)
      return {"violation:stale-code",
              fmt::format("{} of the {} calls after the plan's last step ran the {} code ({}() and {}()); at most {} "
                          "can have begun before it",
                          stale, calls, *expected.newAfterPlan ? "old" : "new", *in.scenario.onHostCalls,
                          *in.scenario.onHostNewCalls, expected.threads),
              kExitViolated};
  }
  // Only a forward plan applied to its end promises both: a reversed one may undo the
  // patch before any call reaches it, and a killed patcher may stop before the switch.
  if (r.countersAtEnd && expected.newAfterPlan == true &&
      (r.countersAtEnd->second == 0 || r.countersAtEnd->second >= r.countersAtEnd->first))
    return {"vacuous",
            fmt::format("of {} calls {} ran the new code: a pass needs calls of both", r.countersAtEnd->first,
                        r.countersAtEnd->second),
            kExitViolated};
  if (r.callsBeforePlan == 0 || r.callsAfterPlan == 0)
    return {"vacuous",
            fmt::format("{} calls began before the plan and {} after it: the patch was not applied under load",
                        r.callsBeforePlan, r.callsAfterPlan),
            kExitViolated};
  return {"holds", "", kExitHolds};
}

}  // namespace hph
