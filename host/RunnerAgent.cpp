#include "host/RunnerAgent.h"

#include <chrono>
#include <cstring>

namespace hph {
namespace {

constexpr long kPollNs = 1'000'000;

// The request `posted`'s command and arguments, read whole (false: being rewritten).
bool readCommand(AgentMailbox& box, uint32_t posted, uint64_t& command, uint64_t (&arguments)[2]) {
  if (__atomic_load_n(&box.commandFor, __ATOMIC_ACQUIRE) != posted) return false;
  command = __atomic_load_n(&box.command, __ATOMIC_RELAXED);
  arguments[0] = __atomic_load_n(&box.arguments[0], __ATOMIC_RELAXED);
  arguments[1] = __atomic_load_n(&box.arguments[1], __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  return __atomic_load_n(&box.commandFor, __ATOMIC_RELAXED) == posted;
}

void answer(AgentMailbox& box, uint64_t command, const uint64_t (&arguments)[2], PatchTarget& target, bool& suspended) {
  std::string error;
  bool ok = true;
  box.stoppedCount = 0;
  box.text[0] = '\0';
  switch (static_cast<AgentCommand>(command)) {
  case AgentCommand::kSuspendAll:
    ok = suspended = target.suspendAll(error);
    if (ok)
      for (const StoppedThread& t : target.stoppedThreads())
        if (box.stoppedCount < kAgentMaxThreads) box.stopped[box.stoppedCount++] = t;
    break;
  case AgentCommand::kResumeAll:
    target.resumeAll();
    suspended = false;
    break;
  case AgentCommand::kSyncAll: ok = target.syncAll(error); break;
  case AgentCommand::kCacheMaintenance: ok = target.cacheMaintenance(arguments[0], arguments[1], error); break;
  case AgentCommand::kSetPc: ok = target.setPc({arguments[0], 0}, arguments[1], error); break;
  case AgentCommand::kReturnAddressInside: {
    std::optional<std::string> found;
    ok = target.returnAddressInside(arguments[0], arguments[1], found, error);
    if (ok && found) error = *found;  // the answer's text: the return address found
    break;
  }
  case AgentCommand::kNone:
    ok = false;
    error = "no command";
    break;
  default:
    ok = false;
    error = "unknown command " + std::to_string(box.command);
    break;
  }
  std::strncpy(box.text, error.c_str(), sizeof box.text - 1);
  box.text[sizeof box.text - 1] = '\0';
  box.ok = ok ? 1 : 0;
}

}  // namespace

AgentEnd serveAgent(HostControl& control, PatchTarget& target, const volatile std::sig_atomic_t& patcherGone,
                    uint64_t timeoutMs) {
  AgentMailbox& box = control.agent;
  const auto giveUp = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  bool suspended = false;
  // What was last answered: a request posted before this thread first looked (the runner
  // said ready before it got here) is still served.
  uint32_t served = __atomic_load_n(&box.response, __ATOMIC_ACQUIRE);
  // However it ends, no thread stays parked for a patcher that is done or gone (as the
  // kernel does for a tracer that dies): the runner must be able to stop its threads.
  const auto end = [&](AgentEnd why) {
    if (suspended) target.resumeAll();
    return why;
  };
  for (;;) {
    if (__atomic_load_n(&control.phase, __ATOMIC_ACQUIRE) == static_cast<uint64_t>(PlanPhase::kAfter))
      return end(AgentEnd::kPlanDone);
    if (patcherGone) return end(AgentEnd::kPatcherGone);
    if (std::chrono::steady_clock::now() > giveUp) return end(AgentEnd::kTimedOut);
    const uint32_t posted = __atomic_load_n(&box.request, __ATOMIC_ACQUIRE);
    uint64_t command = 0, arguments[2] = {};
    if (posted == served || !readCommand(box, posted, command, arguments)) {
      futexWait(&box.request, posted, kPollNs);
      continue;
    }
    answer(box, command, arguments, target, suspended);
    served = posted;
    __atomic_store_n(&box.response, posted, __ATOMIC_RELEASE);
    futexWakeAll(&box.response);
  }
}

}  // namespace hph
