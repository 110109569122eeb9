#include "emu/core/RunViolations.h"

#include <fmt/format.h>

namespace hph {

std::optional<Violation> deadlockViolation(const Process& process) {
  std::string waits;
  for (const GuestThread& t : process.threads())
    if (t.state == ThreadState::kBlocked) {
      const GuestThread* target = process.byHandle(t.waitingFor);
      waits += fmt::format("{}thread {} waits for {}", waits.empty() ? "" : ", ", t.index,
                           target ? actorName(static_cast<ActorId>(target->index)) : "?");
    }
  if (waits.empty()) return std::nullopt;
  return Violation{Property::kDeadlock, kNoActor, "every thread is blocked: " + waits, 0, {}};
}

Violation runawayViolation(ActorId thread, uint64_t instructions, uint64_t budget) {
  return Violation{Property::kRunaway,
                   thread,
                   fmt::format("{} ran {} instructions (budget {})", actorName(thread), instructions, budget),
                   0,
                   {}};
}

Violation faultViolation(ActorId thread, const GuestFault& fault) {
  const bool runaway = fault.kind == FaultKind::kBudgetExhausted;
  return Violation{runaway ? Property::kRunaway : Property::kFault, thread,
                   fmt::format("{}: {}", actorName(thread), fault.describe()), fault.pc, fault};
}

Violation staleFetchViolation(const Machine& machine, ActorId thread, uint64_t stalePc, const std::string& staleText,
                              const GuestFault& fault) {
  Violation v{Property::kA3, thread,
              fmt::format("{} fetched a stale '{}' at {} (the new bytes were not yet visible to it) and faulted: {}",
                          actorName(thread), staleText, machine.describeAddress(stalePc), fault.describe()),
              fault.pc, fault};
  v.instruction = fmt::format("{}: {} (stale)", machine.describeAddress(stalePc), staleText);
  return v;
}

Violation invariantFaultViolation(const std::string& invariant, const GuestFault& fault) {
  return Violation{Property::kInvariant, kNoActor, fmt::format("{}() faulted: {}", invariant, fault.describe()),
                   fault.pc, fault};
}

Violation invariantFalseViolation(const std::string& invariant) {
  return Violation{
      Property::kInvariant, kNoActor, fmt::format("{}() returned 0 after every thread finished", invariant), 0, {}};
}

Violation gaveUpViolation(const Machine& machine, uint64_t from, uint32_t retries, const std::string& blocker) {
  return Violation{
      Property::kRefused,
      kPatcher,
      fmt::format("stop-the-world at {} gave up after {} retries: {}", machine.describeAddress(from), retries, blocker),
      from,
      {}};
}

bool takeMonitorViolation(RunMonitor* monitor, const Machine& machine, RunRecord& record) {
  if (!monitor || record.violation) return record.violation.has_value();
  record.violation = monitor->violation();
  if (record.violation && record.violation->pc)
    record.violation->instruction = fmt::format("{}: {}", machine.describeAddress(record.violation->pc),
                                                machine.disassembleAt(record.violation->pc));
  return record.violation.has_value();
}

}  // namespace hph
