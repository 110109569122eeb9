// What `hph onhost` hands the native runner (hph-host), and what the runner hands back:
// both as JSON, so that the runner needs nothing of hph but the step vocabulary (it is
// cross-built for aarch64 and links neither Unicorn nor LIEF). hph lays the images out
// exactly as the emulator does (same addresses, relocations applied); the runner maps
// those bytes, runs real threads over them, and applies the same Plan.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/AgentMailbox.h"
#include "host/LatencyHistogram.h"
#include "plan/Plan.h"

namespace hph {

enum class HostPermission : uint32_t { kRead = 1, kWrite = 2, kExecute = 4 };

struct HostRegion {
  uint64_t address = 0;
  std::vector<uint8_t> bytes;  // page-multiple
  std::string name = {};       // the image file it holds (for a refusal to name)
};

struct HostProtection {
  uint64_t address = 0;
  uint64_t size = 0;
  uint32_t permissions = 0;  // HostPermission bits
};

struct HostRange {
  uint64_t address = 0;
  uint64_t size = 0;
};

// An import stub the emulator bound (Machine::bindImport): the runner puts a jump to its
// native shim there (NativeShims.h).
struct HostShim {
  uint64_t address = 0;
  std::string dll;
  std::string function;
};

// A count the runner reads: a guest function's result, or a 64-bit guest variable.
struct HostCounter {
  uint64_t address = 0;
  bool variable = false;
};

enum class HostPatcherKind { kInProcess, kExternal };

// The regions that move as one when their preferred addresses are taken (the base image,
// the hotpatch area right past it, the patch images after that or at patch_address):
// [begin, end), from the lowest of them. Another place for them must lie below `limit` (the
// emulator's own areas).
struct HostMovableSpan {
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t limit = 0;
};

struct HostJob {
  std::string arch;  // "x64" (the runner refuses one it was not built for)
  // in-process: the runner applies the plan itself; external: another process does,
  // through ptrace and the runner's memfd (ExternalPatcher.h).
  HostPatcherKind patcher = HostPatcherKind::kInProcess;
  std::vector<HostRegion> regions;
  std::vector<HostProtection> protections;  // sections, after the bytes are in
  uint64_t threadEntry = 0;                 // called as entry(thread index), again and again
  uint32_t threads = 4;
  std::optional<uint64_t> invariantEntry;  // called once every thread stopped: 1 = holds
  uint32_t durationMs = 200;               // how long the threads call
  uint32_t applyAtMs = 100;                // when the patcher starts the plan
  Plan plan;
  std::vector<HostRange> readBack;  // ranges whose final bytes the result reports
  // int3-3step: a thread trapping on the transient int3 at `first` continues at `second`
  // (the replacement: the new semantics, as the kernel's text_poke_bp handler does).
  std::vector<std::pair<uint64_t, uint64_t>> breakpointRedirects;
  // external: the patcher is killed (SIGKILL) right after this many steps.
  std::optional<uint32_t> killPatcherAfterStep;
  // Measuring: apply the first `forwardSteps` steps (timed), then the rest (the unpatch),
  // `applications` times (Applications.h). 1: the whole plan once.
  uint32_t applications = 1;
  uint32_t forwardSteps = 0;
  // external: before the plan, one thread is single-stepped until its PC is here, and the
  // plan is applied with it stopped there (an instruction boundary inside a store).
  std::optional<uint64_t> parkAt;
  // The by-hand baseline (bench/OnHostBench.cpp): the images mapped private, so that a
  // debugger's write through /proc/PID/mem can copy-on-write their read-only pages, which
  // Linux refuses on a shared mapping. Neither patcher can then reach them: the plan must
  // be empty (the debugger is the patcher).
  bool privateImages = false;
  // [onhost] calls / new_calls: counters read once the plan is done and at the end.
  std::optional<HostCounter> callsCounter, newCallsCounter;
  std::vector<HostShim> shims;  // every import stub the images' import tables point at
  std::optional<HostMovableSpan> movable;
};

// The external patcher reaches the threads through ptrace, except for arm64 jobs: their
// runner runs under qemu-user, where ptrace sees qemu's registers, so the patcher asks
// the runner's agent (RunnerAgent.h) instead. Either way the stores come from outside.
inline bool threadsThroughAgent(HostPatcherKind patcher, std::string_view arch) {
  return patcher == HostPatcherKind::kExternal && arch == "arm64";
}
inline bool threadsThroughAgent(const HostJob& job) { return threadsThroughAgent(job.patcher, job.arch); }

struct HostFault {
  uint32_t thread = 0;
  uint64_t pc = 0;
  int signal = 0;
};

struct HostResult {
  std::vector<uint64_t> calls;    // per thread: entry calls completed
  uint64_t callsBeforePlan = 0;   // calls begun before the first step
  uint64_t callsAfterPlan = 0;    // calls begun after the last step
  std::vector<HostFault> faults;  // guest faults in real threads
  std::optional<uint64_t> invariant;
  std::vector<HostRegion> finalBytes;  // readBack, in order
  // The write-set audit: every byte of the read-only ranges (headers, code, read-only
  // data, the hotpatch area) that differs at the end from the job's bytes, as runs.
  std::vector<HostRange> changed;
  uint64_t applyNanoseconds = 0;                 // first step begun -> last step done
  std::vector<uint64_t> applicationNanoseconds;  // each application's, in order
  std::vector<uint64_t> stepNanoseconds;
  // Worker stall: entry-call latencies of calls that began and ended in one phase (steady
  // state, before or after the plan) and of those that overlapped applying it.
  LatencyHistogram callNsSteady, callNsDuringApply;
  // The job's counters (callsCounter, newCallsCounter), read once the plan was done and once
  // every thread stopped: {calls, new calls}.
  std::optional<std::pair<uint64_t, uint64_t>> countersAfterPlan, countersAtEnd;
  // The plan gave up (stop-the-world out of move-pc retries): a refusal; the threads ran
  // on with what the steps before left.
  std::string gaveUp;
  uint32_t moveRetries = 0;      // move-pc retries taken (a return address inside the span)
  bool patcherRealTime = false;  // the patcher applied at SCHED_FIFO (PatcherPriority.h)
  std::string error;             // the job could not run (bad job, the host refused): the runner exits 2
  // With `error`: the movable span's addresses are taken, and it would fit from here (a
  // free place the runner found). hph lays the images out again there and retries.
  std::optional<uint64_t> movableSpanFits;
};

// Where each region lies in the runner's memfd (regions back to back, in job order), and
// the control page after them: words both patchers and the runner's threads share.
struct HostMapping {
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
};
std::vector<HostMapping> memfdLayout(const HostJob& job);
inline constexpr uint64_t kControlPageBytes = 4096;
// Where the plan is when a call begins: counted apart so a pass is never vacuous.
enum class PlanPhase : uint64_t { kBefore, kApplying, kAfter };

// The control page's words (std::atomic<uint64_t> each).
struct HostControl {
  uint64_t phase;  // PlanPhase: before, applying, after
  uint64_t ready;  // 1 once every guest thread runs
  AgentMailbox agent;
};
static_assert(sizeof(HostControl) <= kControlPageBytes);
// The memfd's name in /proc/PID/fd, so that an external patcher can find it.
inline constexpr const char* kGuestImagesMemfd = "hph-guest-images";

nlohmann::json hostJobToJson(const HostJob& job);
std::optional<HostJob> hostJobFromJson(const nlohmann::json& j, std::string& error);
nlohmann::json hostResultToJson(const HostResult& result);
std::optional<HostResult> hostResultFromJson(const nlohmann::json& j, std::string& error);

}  // namespace hph
