// hph-host JOB.json: runs a job `hph onhost` wrote (HostJob.h) and prints its result as
// JSON on stdout. Exit 0 when it ran (the verdict is hph's to draw), 2 when the job or
// the host refuses (the result's `error` says which field or setting), 3 otherwise.
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>

#include "host/Applications.h"
#include "host/GuestThreads.h"
#include "host/HostJob.h"
#include "host/HostMemory.h"
#include "host/InProcessPatcher.h"
#include "host/NativeShims.h"
#include "host/PatcherPriority.h"
#include "host/RunnerAgent.h"
#include "host/ThreadArch.h"

namespace {

// hph says the external patcher is gone (killed mid-plan): stop waiting for it.
volatile sig_atomic_t patcherGone = 0;
void onPatcherGone(int) { patcherGone = 1; }

// The write-set audit: where the read-only ranges differ from the job's bytes.
std::vector<hph::HostRange> changedBytes(const hph::HostJob& job, const hph::HostMemory& memory) {
  std::vector<hph::HostRange> changed;
  for (const hph::HostProtection& p : job.protections) {
    if (p.permissions & static_cast<uint32_t>(hph::HostPermission::kWrite)) continue;
    for (const hph::HostRegion& r : job.regions) {
      if (p.address < r.address || p.address + p.size > r.address + r.bytes.size()) continue;
      const std::vector<uint8_t> now = memory.read(p.address, p.size);
      for (uint64_t i = 0; i < now.size(); ++i) {
        if (now[i] == r.bytes[p.address - r.address + i]) continue;
        const uint64_t at = p.address + i;
        if (!changed.empty() && changed.back().address + changed.back().size == at)
          ++changed.back().size;
        else
          changed.push_back({at, 1});
      }
    }
  }
  return changed;
}

uint64_t readCounter(const hph::HostCounter& counter) {
  if (counter.variable) return __atomic_load_n(reinterpret_cast<const uint64_t*>(counter.address), __ATOMIC_ACQUIRE);
  return hph::GuestThreads::callOnThisThread(counter.address);
}

// The job's call counters, if it has them: {calls, new calls}. The threads call on
// meanwhile, so the new calls are read first: calls that ran the new code between the two
// reads then count as new calls after the plan without counting as calls after it, and
// the stale-code check can only undercount (never see staleness that is not there).
std::optional<std::pair<uint64_t, uint64_t>> readCounters(const hph::HostJob& job) {
  if (!job.callsCounter || !job.newCallsCounter) return std::nullopt;
  const uint64_t fresh = readCounter(*job.newCallsCounter);
  return std::pair{readCounter(*job.callsCounter), fresh};
}

// The tests' taken bases (HPH_TEST_TAKEN_ADDRESSES="0x180000000,0x180030000@0x180030000"): a
// page is mapped at each before the images are, as another library of the process might
// have been; "A@B" takes A only in a runner whose movable images begin at B (a place found
// free by one runner, taken by the time the next one maps it).
void takeAddressesForTest(const hph::HostJob& job) {
  const char* list = std::getenv("HPH_TEST_TAKEN_ADDRESSES");
  for (std::string_view rest = list ? list : ""; !rest.empty();) {
    const size_t comma = rest.find(',');
    const std::string one(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    char* end = nullptr;
    const uint64_t at = std::strtoull(one.c_str(), &end, 16);
    if (*end == '@' && (!job.movable || job.movable->begin != std::strtoull(end + 1, nullptr, 16))) continue;
    mmap(reinterpret_cast<void*>(at), 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  }
}

int finish(const hph::HostResult& result, int code) {
  std::cout << hph::hostResultToJson(result).dump() << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  hph::HostResult result;
  if (argc != 2) {
    result.error = "usage: hph-host JOB.json";
    return finish(result, 2);
  }
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  const auto parsed = nlohmann::json::parse(text.str(), nullptr, false);
  std::string error;
  const auto job = parsed.is_discarded() ? std::nullopt : hph::hostJobFromJson(parsed, error);
  if (!job) {
    result.error = std::string(argv[1]) + ": " + (parsed.is_discarded() ? "not JSON" : error);
    return finish(result, 2);
  }
  const char* built = hph::thread_arch::kJobArch;
  if (job->arch != built) {
    result.error = std::string(argv[1]) + ": 'arch': " + job->arch + " jobs need the " + job->arch + " runner";
    return finish(result, 2);
  }
  // The agent serves sync-all in-process too.
  const bool syncsHere = job->patcher == hph::HostPatcherKind::kInProcess || hph::threadsThroughAgent(*job);
  if (syncsHere && !hph::InProcessPatcher::prepare(job->plan, error)) {
    result.error = error;
    return finish(result, 2);
  }
  takeAddressesForTest(*job);
  hph::HostMapRefusal refusal;
  auto memory = hph::HostMemory::map(*job, refusal);
  if (!memory) {
    result.error = refusal.error;
    result.movableSpanFits = refusal.movableSpanFits;
    return finish(result, 2);
  }
  if (!hph::mapNativeShims(job->shims, error)) {
    result.error = std::string(argv[1]) + ": " + error;
    return finish(result, 2);
  }
  hph::HostControl& control = memory->control();
  const bool external = job->patcher == hph::HostPatcherKind::kExternal;
  // Yama's ptrace_scope 1 lets only ancestors trace: the external patcher is a sibling.
  if (external) {
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    signal(SIGUSR2, onPatcherGone);
  }
  hph::GuestThreads threads;
  threads.watchPhase(&control.phase);
  if (!threads.start(job->threadEntry, job->threads, job->breakpointRedirects, error)) {
    result.error = error;
    return finish(result, 3);
  }
  const auto start = std::chrono::steady_clock::now();
  bool applied = true;
  hph::InProcessPatcher here(*memory, threads);
  if (external) {
    // The patcher comes from outside: serve what it asks of the threads (if anything)
    // until it says the plan is done, then let the threads call on for the rest of the run.
    __atomic_store_n(&control.ready, 1, __ATOMIC_RELEASE);
    // The agent acts for the patcher: at its priority (it sleeps between requests).
    std::optional<hph::PatcherPriority> priority;
    if (hph::threadsThroughAgent(*job)) result.patcherRealTime = priority.emplace().raised();
    const hph::AgentEnd end = hph::serveAgent(control, here, patcherGone, job->applyAtMs + 30'000);
    priority.reset();
    switch (end) {
    case hph::AgentEnd::kPlanDone: break;
    case hph::AgentEnd::kPatcherGone:
      // What the patcher left is the state the threads go on with.
      __atomic_store_n(&control.phase, static_cast<uint64_t>(hph::PlanPhase::kAfter), __ATOMIC_RELEASE);
      break;
    case hph::AgentEnd::kTimedOut:
      applied = false;
      error = "the external patcher did not finish within 30 s";
      break;
    }
    result.countersAfterPlan = readCounters(*job);
    std::this_thread::sleep_for(std::chrono::milliseconds(job->durationMs - job->applyAtMs));
  } else {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(job->applyAtMs));
    __atomic_store_n(&control.phase, static_cast<uint64_t>(hph::PlanPhase::kApplying), __ATOMIC_RELEASE);
    {
      const hph::PatcherPriority priority;
      result.patcherRealTime = priority.raised();
      applied = hph::applyJob(here, *job, result, error);
    }
    __atomic_store_n(&control.phase, static_cast<uint64_t>(hph::PlanPhase::kAfter), __ATOMIC_RELEASE);
    result.countersAfterPlan = readCounters(*job);
    // As long after the plan as before it, however long applying took (a loaded machine,
    // repeated applications): calls after the patch must run.
    std::this_thread::sleep_for(std::chrono::milliseconds(job->durationMs - job->applyAtMs));
  }
  threads.stopAndJoin();
  threads.collect(result);
  if (!applied && result.gaveUp.empty()) {
    result.error = error;
    return finish(result, 3);
  }
  if (result.faults.empty()) result.countersAtEnd = readCounters(*job);
  if (job->invariantEntry && result.faults.empty())
    result.invariant = hph::GuestThreads::callOnThisThread(*job->invariantEntry);
  for (const hph::HostRange& r : job->readBack)
    result.finalBytes.push_back({r.address, memory->read(r.address, r.size)});
  result.changed = changedBytes(*job, *memory);
  return finish(result, 0);
}
