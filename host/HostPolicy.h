// What this host lets `hph onhost` do, read before anything runs, so that a refusal names
// the setting instead of surfacing later as a failed system call. The decision is a pure
// function of what was read (tests feed it hosts they cannot be).
#pragma once

#include <optional>
#include <string>

#include "host/HostJob.h"
#include "plan/Plan.h"

namespace hph {

struct HostPolicy {
  // kernel.yama.ptrace_scope (nullopt: no Yama, ptrace as the classic rules allow).
  std::optional<int> ptraceScope;
  // CAP_SYS_PTRACE in this process's effective set (Yama's scope 2 asks for it).
  bool capSysPtrace = false;
  // membarrier(MEMBARRIER_CMD_QUERY) offers PRIVATE_EXPEDITED_SYNC_CORE.
  bool membarrierSyncCore = false;
};

HostPolicy readHostPolicy();

// Why `patcher` cannot apply `plan` on such a host, naming the setting; nullopt: it can.
// /proc/PID/mem is not among them: neither patcher stores through it (docs/onhost.md), so
// proc_mem.force_override does not matter here.
// `throughAgent`: the external patcher reaches the threads through the runner's agent
// (threadsThroughAgent), which needs no ptrace but issues the in-process sync-all.
std::optional<std::string> hostRefusal(const HostPolicy& policy, HostPatcherKind patcher, bool throughAgent,
                                       const Plan& plan);

}  // namespace hph
