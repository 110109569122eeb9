#include "host/HostPolicy.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <variant>

namespace hph {
namespace {

constexpr int kCapSysPtrace = 19;  // linux/capability.h

std::optional<std::string> firstLineOf(const char* path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

bool hasSyncAll(const Plan& plan) {
  return std::any_of(plan.steps.begin(), plan.steps.end(),
                     [](const Step& s) { return std::holds_alternative<SyncAllStep>(s); });
}

}  // namespace

HostPolicy readHostPolicy() {
  HostPolicy policy;
  if (const auto scope = firstLineOf("/proc/sys/kernel/yama/ptrace_scope")) {
    try {
      policy.ptraceScope = std::stoi(*scope);
    } catch (...) {
      policy.ptraceScope = 3;  // unreadable: assume the strictest
    }
  }
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (!line.starts_with("CapEff:")) continue;
    std::istringstream hex(line.substr(7));
    unsigned long long effective = 0;
    hex >> std::hex >> effective;
    policy.capSysPtrace = (effective >> kCapSysPtrace) & 1;
  }
  const long offered = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  policy.membarrierSyncCore = offered > 0 && (offered & MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE);
  return policy;
}

std::optional<std::string> hostRefusal(const HostPolicy& policy, HostPatcherKind patcher, bool throughAgent,
                                       const Plan& plan) {
  if (patcher == HostPatcherKind::kExternal && !throughAgent) {
    // Scope 1 (descendants only) is met: the runner names any process its tracer.
    if (policy.ptraceScope == 3)
      return "kernel.yama.ptrace_scope = 3: no process may ptrace another, and the external patcher drives the "
             "target through ptrace (use --patcher in-process)";
    if (policy.ptraceScope == 2 && !policy.capSysPtrace)
      return "kernel.yama.ptrace_scope = 2: only a process with CAP_SYS_PTRACE may ptrace, and hph lacks it (run "
             "as such, or use --patcher in-process)";
    return std::nullopt;
  }
  if (hasSyncAll(plan) && !policy.membarrierSyncCore)
    return "membarrier: this kernel does not offer MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, which the "
           "in-process patcher's sync-all step issues, and the runner's agent for the Arm64 external one (on x64 use "
           "--patcher external: it stops and restarts every thread)";
  return std::nullopt;
}

}  // namespace hph
