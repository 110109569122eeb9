// The runner's agent and the external patcher talk through words of the control page
// (shared by the runner's memfd): one request at a time. The agent serves PatchTarget
// operations on the runner's threads for a patcher that cannot reach them itself: under
// qemu-user, ptrace sees qemu's registers, not the guest's (RunnerAgent.h). The stores
// never go through it: the patcher makes them from outside, through its own mapping.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include "host/PatchTarget.h"

namespace hph {

enum class AgentCommand : uint64_t {
  kNone,
  kSuspendAll,  // answers with the stopped threads
  kResumeAll,
  kSyncAll,
  kCacheMaintenance,     // arguments: address, size
  kSetPc,                // arguments: thread id, pc
  kReturnAddressInside,  // arguments: from, size; answers with a description, or none
};

// hph onhost runs at most this many threads.
inline constexpr uint32_t kAgentMaxThreads = 64;

struct AgentMailbox {
  uint32_t request;   // futex word: the patcher bumps it once the command is written
  uint32_t response;  // futex word: the agent sets it to `request` once it answered
  // The request the command and arguments belong to: 0 while the patcher rewrites them
  // (after a request timed out, the agent may still be reading the last one).
  uint32_t commandFor;
  uint64_t command;  // AgentCommand
  uint64_t arguments[2];
  uint64_t ok;  // 1: done; 0: failed, `text` says why
  uint64_t stoppedCount;
  StoppedThread stopped[kAgentMaxThreads];
  char text[512];  // an error, or the return address found; "" for none
};

// Futexes on a page two processes map: not FUTEX_PRIVATE. A timeout bounds every wait, so
// that neither side hangs on a peer that died.
inline void futexWait(uint32_t* word, uint32_t expected, long timeoutNs) {
  const timespec timeout{0, timeoutNs};
  syscall(SYS_futex, word, FUTEX_WAIT, expected, &timeout, nullptr, 0);
}
inline void futexWakeAll(uint32_t* word) { syscall(SYS_futex, word, FUTEX_WAKE, 1 << 30, nullptr, nullptr, 0); }

}  // namespace hph
