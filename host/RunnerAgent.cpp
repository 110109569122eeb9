#include "host/RunnerAgent.h"

#include <chrono>
#include <cstring>

namespace hph {
namespace {

constexpr long kPollNs = 1'000'000;

void answer(AgentMailbox& box, PatchTarget& target, bool& suspended) {
  std::string error;
  bool ok = true;
  box.stoppedCount = 0;
  box.text[0] = '\0';
  switch (static_cast<AgentCommand>(box.command)) {
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
  case AgentCommand::kCacheMaintenance: ok = target.cacheMaintenance(box.arguments[0], box.arguments[1], error); break;
  case AgentCommand::kSetPc: ok = target.setPc({box.arguments[0], 0}, box.arguments[1], error); break;
  case AgentCommand::kReturnAddressInside:
    if (const auto found = target.returnAddressInside(box.arguments[0], box.arguments[1])) error = *found;
    break;
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
  uint32_t served = __atomic_load_n(&box.request, __ATOMIC_ACQUIRE);
  for (;;) {
    if (__atomic_load_n(&control.phase, __ATOMIC_ACQUIRE) == static_cast<uint64_t>(PlanPhase::kAfter))
      return AgentEnd::kPlanDone;
    if (patcherGone) {
      // As the kernel does for a tracer that dies: whatever it held runs on.
      if (suspended) target.resumeAll();
      return AgentEnd::kPatcherGone;
    }
    if (std::chrono::steady_clock::now() > giveUp) return AgentEnd::kTimedOut;
    const uint32_t posted = __atomic_load_n(&box.request, __ATOMIC_ACQUIRE);
    if (posted == served) {
      futexWait(&box.request, posted, kPollNs);
      continue;
    }
    answer(box, target, suspended);
    served = posted;
    __atomic_store_n(&box.response, posted, __ATOMIC_RELEASE);
    futexWakeAll(&box.response);
  }
}

}  // namespace hph
