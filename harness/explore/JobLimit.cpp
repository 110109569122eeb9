#include "harness/explore/JobLimit.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "harness/explore/Explorer.h"
#include "harness/scenario/Limits.h"

namespace hph {
namespace {

// The address space in use now (/proc/self/statm: size in pages).
uint64_t addressSpaceInUse() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  statm >> pages;
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// How many more engines the address-space limit leaves room for (UINT64_MAX: no limit).
uint64_t enginesThatFit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  const uint64_t used = addressSpaceInUse();
  if (limit.rlim_cur <= used) return 0;
  return (limit.rlim_cur - used) / limits::kJobAddressSpaceBytes;
}

Error noRoom(uint32_t engines) {
  rlimit limit{};
  getrlimit(RLIMIT_AS, &limit);
  return Error{Status::kResource,
               fmt::format("resource: the address-space limit (ulimit -v) of {} MiB, with {} MiB in use, has no room "
                           "for {} more emulator engine{} of ~{} MiB each; raise the limit",
                           static_cast<uint64_t>(limit.rlim_cur) >> 20, addressSpaceInUse() >> 20, engines,
                           engines == 1 ? "" : "s", limits::kJobAddressSpaceBytes >> 20)};
}

}  // namespace

Result<JobPlan> planJobs(uint32_t requested, uint32_t enginesPerJob) {
  enginesPerJob = std::max<uint32_t>(enginesPerJob, 1);
  JobPlan plan;
  const uint32_t cpus = availableCpus();
  plan.jobs = requested == 0 ? cpus : requested;
  if (plan.jobs > cpus) {
    plan.note = fmt::format("--jobs {} clamped to {}: the CPUs this process may use", plan.jobs, cpus);
    plan.jobs = cpus;
  }
  const uint64_t fit = enginesThatFit() / enginesPerJob;
  if (fit == 0) return noRoom(enginesPerJob);
  if (fit < plan.jobs) {
    plan.note = fmt::format("--jobs {} clamped to {}: the address-space limit (ulimit -v) holds {} job{} of ~{} MiB",
                            requested == 0 ? cpus : requested, fit, fit, fit == 1 ? "" : "s",
                            enginesPerJob * (limits::kJobAddressSpaceBytes >> 20));
    plan.jobs = static_cast<uint32_t>(fit);
  }
  return plan;
}

Result<void> checkRoomForEngines(uint32_t engines) {
  if (enginesThatFit() < engines) return noRoom(engines);
  return {};
}

}  // namespace hph
