// The violations the decision loop itself finds (not the property checkers): a deadlock,
// a runaway or faulting thread, a fault on a stale fetch (A3), a failed invariant, a plan
// that gave up; and the checkers' first violation taken into the run's record.
#pragma once

#include <optional>
#include <string>

#include "emu/core/Machine.h"
#include "emu/core/Process.h"
#include "emu/core/RunMonitor.h"
#include "emu/core/Schedule.h"

namespace hph {

// Every live thread blocked: who waits for whom (nullopt when none is blocked).
std::optional<Violation> deadlockViolation(const Process& process);
Violation runawayViolation(ActorId thread, uint64_t instructions, uint64_t budget);
Violation faultViolation(ActorId thread, const GuestFault& fault);
// A3: `thread` faulted on the stale instruction `staleText` the fetch model let it fetch.
Violation staleFetchViolation(const Machine& machine, ActorId thread, uint64_t stalePc, const std::string& staleText,
                              const GuestFault& fault);
Violation invariantFaultViolation(const std::string& invariant, const GuestFault& fault);
Violation invariantFalseViolation(const std::string& invariant);
Violation gaveUpViolation(const Machine& machine, uint64_t from, uint32_t retries, const std::string& blocker);

// Takes the monitor's first violation into `record`, with the instruction involved as
// memory holds it now (true when the record has a violation).
bool takeMonitorViolation(RunMonitor* monitor, const Machine& machine, RunRecord& record);

}  // namespace hph
