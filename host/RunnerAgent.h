// The runner's agent: while an external patcher applies its plan, the runner's main
// thread serves the requests it posts in the control page (AgentMailbox.h) with the
// in-process target, and stops when the plan is done or the patcher is gone. An external
// patcher that can ptrace the threads (x64) posts nothing; under qemu-user it must ask.
#pragma once

#include <csignal>
#include <string>

#include "host/HostJob.h"
#include "host/PatchTarget.h"

namespace hph {

enum class AgentEnd {
  kPlanDone,     // the patcher set the phase to after
  kPatcherGone,  // killed mid-plan: the threads it held are let go
  kTimedOut,
};

// Serves until the phase is kAfter, `patcherGone` is set, or `timeoutMs` passed.
AgentEnd serveAgent(HostControl& control, PatchTarget& threads, const volatile std::sig_atomic_t& patcherGone,
                    uint64_t timeoutMs);

}  // namespace hph
