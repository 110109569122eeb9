#include "harness/OnHostCommand.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "emu/pe/PeFormat.h"
#include "harness/Diagnostics.h"
#include "harness/HostVerdict.h"
#include "harness/WorkerProcess.h"
#include "harness/explore/Explorer.h"
#include "harness/explore/ReplaySource.h"
#include "harness/explore/Session.h"
#include "harness/report/JunitReport.h"
#include "harness/report/SarifReport.h"
#include "harness/report/ScenarioJson.h"
#include "harness/scenario/PreparedScenario.h"
#include "harness/scenario/Vacuity.h"
#include "host/Applications.h"
#include "host/ExternalPatcher.h"
#include "host/HostJob.h"
#include "host/HostPolicy.h"
#include "host/PatcherPriority.h"
#include "support/HexText.h"

namespace hph {
namespace {

using nlohmann::json;

// The runners sit next to hph (host/CMakeLists.txt): the native one for x64 jobs, the
// cross-built aarch64 one for arm64 jobs, run under qemu-aarch64.
std::string runnerPath(const std::string& arch) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / (arch == "arm64" ? "hph-host-aarch64" : "hph-host")).string();
}

// qemu-aarch64 on PATH, or "".
std::string qemuAarch64() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::filesystem::path candidate = std::filesystem::path(dir) / "qemu-aarch64";
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

uint32_t permissionsOf(const SectionInfo& section) {
  uint32_t p = static_cast<uint32_t>(HostPermission::kRead);
  if (section.characteristics & pe::kSectionWrite) p |= static_cast<uint32_t>(HostPermission::kWrite);
  if (section.executable()) p |= static_cast<uint32_t>(HostPermission::kExecute);
  return p;
}

// Sections with their protections (headers read-only); the hotpatch area is code.
void addProtections(HostJob& job, const PeImage& image, uint64_t base) {
  job.protections.push_back({base, image.sizeOfHeaders, static_cast<uint32_t>(HostPermission::kRead)});
  for (const SectionInfo& s : image.sections)
    job.protections.push_back({base + s.virtualAddress, s.end() - s.virtualAddress, permissionsOf(s)});
}

// The bytes of the read-back ranges once the plan's first `steps` steps are applied to
// the job's own (initial) bytes: what a patcher killed there leaves.
std::vector<HostRegion> prefixState(const HostJob& job, size_t steps) {
  std::vector<HostRegion> state;
  for (const HostRange& r : job.readBack) {
    HostRegion bytes{r.address, std::vector<uint8_t>(r.size, 0)};
    for (const HostRegion& region : job.regions)
      if (r.address >= region.address && r.address + r.size <= region.address + region.bytes.size())
        std::copy_n(region.bytes.begin() + static_cast<std::ptrdiff_t>(r.address - region.address), r.size,
                    bytes.bytes.begin());
    state.push_back(std::move(bytes));
  }
  for (size_t i = 0; i < steps && i < job.plan.steps.size(); ++i)
    if (const auto* s = std::get_if<StoreStep>(&job.plan.steps[i]))
      for (HostRegion& bytes : state)
        for (size_t b = 0; b < s->bytes.size(); ++b)
          if (s->address + b >= bytes.address && s->address + b < bytes.address + bytes.bytes.size())
            bytes.bytes[s->address + b - bytes.address] = s->bytes[b];
  return state;
}

// The ranges the first `steps` steps store to.
std::vector<HostRange> storedBy(const Plan& plan, size_t steps) {
  std::vector<HostRange> ranges;
  for (size_t i = 0; i < steps && i < plan.steps.size(); ++i)
    if (const auto* s = std::get_if<StoreStep>(&plan.steps[i])) ranges.push_back({s->address, s->bytes.size()});
  return ranges;
}

// `machine` holds the images as every run starts (loadPatchedImages): the job's bytes.
Result<HostJob> buildJob(const ScenarioInputs& in, const Machine& machine, const OnHostOptions& options,
                         std::optional<uint32_t> killAfterStep, HostExpectation& expected) {
  HostJob job;
  job.arch = std::string(in.base->arch->name());
  job.patcher = options.patcher == "external" ? HostPatcherKind::kExternal : HostPatcherKind::kInProcess;
  for (const auto& region : machine.memory().regions()) {
    if (region->base >= Machine::kStackBase) continue;
    std::string name = region->name;
    for (const LoadedModule& module : machine.modules())
      if (module.base == region->base && !module.path.empty()) name = module.path;
    job.regions.push_back(
        {region->base, std::vector<uint8_t>(region->bytes.get(), region->bytes.get() + region->size), name});
  }
  addProtections(job, *in.base, in.base->imageBase);
  job.protections.push_back(
      {in.layout.scratchBase, kHotpatchAreaBytes,
       static_cast<uint32_t>(HostPermission::kRead) | static_cast<uint32_t>(HostPermission::kExecute)});
  for (const PatchImage& p : in.layout.patches) addProtections(job, *p.image, p.loadAddress);
  job.threadEntry = in.threadEntry;
  job.threads = options.threads;
  job.invariantEntry = in.invariantEntry;
  if (in.onHostCalls) job.callsCounter = HostCounter{in.onHostCalls->address, in.onHostCalls->variable};
  if (in.onHostNewCalls) job.newCallsCounter = HostCounter{in.onHostNewCalls->address, in.onHostNewCalls->variable};
  for (const Machine::BoundImport& i : machine.boundImports()) job.shims.push_back({i.stub, i.dll, i.function});
  // The base image, the hotpatch area and the patch images move as one, below the
  // emulator's own areas, when the host has their addresses taken. A patch_address may
  // put the patches below the base.
  uint64_t spanBegin = in.base->imageBase, spanEnd = in.base->imageBase + in.base->sizeOfImage;
  if (!in.layout.patches.empty()) spanEnd = std::max(spanEnd, in.layout.scratchBase + kHotpatchAreaBytes);
  for (const PatchImage& p : in.layout.patches) {
    spanBegin = std::min(spanBegin, p.loadAddress);
    spanEnd = std::max(spanEnd, p.loadAddress + p.image->sizeOfImage);
  }
  job.movable = HostMovableSpan{spanBegin, spanEnd, Process::kThreadAreaBase};
  job.durationMs = static_cast<uint32_t>(options.duration * 1000);
  job.applyAtMs = job.durationMs / 2;
  job.plan = in.plan;
  job.breakpointRedirects = in.breakpointRedirects;
  job.readBack = storedBy(in.plan, in.plan.steps.size());
  job.killPatcherAfterStep = killAfterStep;
  if (killAfterStep) {
    // A patcher killed after K steps leaves the plan's state after K steps, nothing else.
    expected.bytes = prefixState(job, *killAfterStep);
    expected.source = fmt::format("the plan's first {} step{} leave", *killAfterStep, *killAfterStep == 1 ? "" : "s");
    expected.stores = storedBy(in.plan, *killAfterStep);
    return job;
  }
  expected.stores = job.readBack;
  // Repeated applications end each with the unpatch: what runs after is not the plan's.
  if (in.onHostCalls && options.applications <= 1) expected.newAfterPlan = !in.scenario.reverse;
  expected.threads = options.threads;
  // Reversed: what the reverse plan itself puts back must be back on the host. Not every
  // unpatch restores every byte: literal-swap's leaves the entry's B to the indirection
  // (docs/patches.md); those bytes are judged against the emulator's alone.
  if (in.scenario.reverse) {
    const std::vector<HostRegion> planned = prefixState(job, job.plan.steps.size());
    std::vector<HostRegion> before = prefixState(job, 0);
    for (size_t i = 0; i < before.size(); ++i)
      if ((before[i].address < in.layout.scratchBase ||
           before[i].address >= in.layout.scratchBase + kHotpatchAreaBytes) &&
          planned[i].bytes == before[i].bytes)
        expected.original.push_back(std::move(before[i]));
  }

  // What the emulator ends with: the whole plan applied, then every thread run.
  auto session = Session::create(std::make_shared<ScenarioInputs>(in), false);
  if (!session) return session.error();
  std::vector<std::pair<uint64_t, ActorId>> patcherFirst;
  for (uint64_t i = 0; i < in.plan.steps.size(); ++i) patcherFirst.emplace_back(i, kPatcher);
  ReplaySource schedule(patcherFirst);
  const RunRecord run = (*session)->run(schedule);
  if (run.error) return *run.error;
  // A plan the emulator finds broken even applied alone (a canary) ends no state to
  // compare with: the host's verdict stands on what its threads saw.
  if (run.violation) return job;
  for (const HostRange& r : job.readBack) {
    std::vector<uint8_t> bytes(r.size);
    (*session)->machine().readGuest(r.address, bytes);
    expected.bytes.push_back({r.address, std::move(bytes)});
  }
  return job;
}

// The instruction boundaries of the original code strictly inside each live store: where
// a thread can stand while the store lands (naive-jmp5's 5 bytes over a 3-byte move).
std::vector<uint64_t> boundariesInsideLiveStores(const HostJob& job, const Arch& arch, size_t steps) {
  std::vector<uint64_t> boundaries;
  const std::vector<HostRegion> original = prefixState(job, 0);
  for (size_t i = 0; i < steps && i < job.plan.steps.size(); ++i) {
    const auto* s = std::get_if<StoreStep>(&job.plan.steps[i]);
    if (!s || !s->live) continue;
    for (const HostRegion& bytes : original) {
      if (bytes.address != s->address) continue;
      for (uint64_t at = 0; at < bytes.bytes.size();) {
        const DecodedInstruction d =
            arch.decode(std::span(bytes.bytes).subspan(static_cast<size_t>(at)), s->address + at);
        if (!d.valid || d.length == 0) break;
        at += d.length;
        if (at < bytes.bytes.size()) boundaries.push_back(s->address + at);
      }
    }
  }
  return boundaries;
}

// Single steps a parked thread may take to reach its boundary (a few calls' worth).
constexpr uint64_t kParkSteps = 1'000'000;

struct PatcherOutcome {
  std::string error;
  std::string gaveUp;  // out of move-pc retries: a refusal, not a failure of the patcher
  uint32_t moveRetries = 0;
  std::vector<uint64_t> stepNanoseconds;
  uint64_t applyNanoseconds = 0;
  std::vector<uint64_t> applicationNanoseconds;
  bool realTime = false;  // it applied at SCHED_FIFO (host/PatcherPriority.h)
};

// Forks the external patcher against the runner `target` and waits for it.
PatcherOutcome runExternalPatcher(pid_t target, const HostJob& job) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {"cannot open a pipe to the patcher"};
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    HostResult timing;
    std::string error;
    auto patcher = ExternalPatcher::attach(target, job, error);
    if (patcher) {
      std::this_thread::sleep_for(std::chrono::milliseconds(job.applyAtMs));
      // The kill-at-every-step runs: die as a crashed patcher would, threads still seized.
      const auto killAt = job.killPatcherAfterStep;
      if (killAt == 0u) raise(SIGKILL);
      if (!job.parkAt || patcher->parkAt(*job.parkAt, kParkSteps, error)) {
        const PatcherPriority priority;
        timing.patcherRealTime = priority.raised();
        patcher->setPhase(PlanPhase::kApplying);
        applyJob(*patcher, job, timing, error, [&](size_t done) {
          if (killAt && done == *killAt) raise(SIGKILL);
        });
        patcher->setPhase(PlanPhase::kAfter);
      }
      patcher->detach();
    }
    const std::string text = json{
        {"error", error},
        {"gave_up", timing.gaveUp},
        {"move_retries", timing.moveRetries},
        {"step_ns", timing.stepNanoseconds},
        {"apply_ns", timing.applyNanoseconds},
        {"application_ns", timing.applicationNanoseconds},
        {"realtime",
         timing.patcherRealTime}}.dump();
    const ssize_t written = write(fds[1], text.data(), text.size());
    _exit(written == static_cast<ssize_t>(text.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  // However it ended, the runner stops waiting for it.
  kill(target, SIGUSR2);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && job.killPatcherAfterStep) return {};
  if (WIFSIGNALED(status)) return {fmt::format("it died of {}", signalName(WTERMSIG(status)))};
  const json parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded()) return {"it reported nothing"};
  return {parsed.value("error", ""),        parsed.value("gave_up", ""),
          parsed.value("move_retries", 0u), parsed.value("step_ns", std::vector<uint64_t>{}),
          parsed.value("apply_ns", 0ull),   parsed.value("application_ns", std::vector<uint64_t>{}),
          parsed.value("realtime", false)};
}

// Runs hph-host on `job`; its result, or why it could not run.
Result<HostResult> runRunner(const HostJob& job, const std::string& name, const std::optional<std::string>& keepJob) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("hph-onhost-{}", getpid());
  std::filesystem::create_directories(dir);
  const std::string jobPath = (dir / (name + ".job.json")).string();
  const std::string outPath = (dir / (name + ".result.json")).string();
  {
    std::ofstream out(jobPath);
    out << hostJobToJson(job).dump();
    if (!out) return internalError(fmt::format("cannot write {}", jobPath));
  }
  if (keepJob) {
    std::error_code ec;
    std::filesystem::copy_file(jobPath, *keepJob, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return badInput(fmt::format("--job {}: cannot write", *keepJob));
  }
  const std::string runner = runnerPath(job.arch);
  const std::string qemu = job.arch == "arm64" ? qemuAarch64() : "";
  if (job.arch == "arm64" && qemu.empty())
    return badInput(fmt::format("{}: arch: arm64 runs under qemu-aarch64, which is not on PATH (Debian's qemu-user; "
                                "ci/install-deps.sh installs it)",
                                name));
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(outPath.c_str(), "w", stdout)) _exit(127);
    if (qemu.empty())
      execl(runner.c_str(), runner.c_str(), jobPath.c_str(), static_cast<char*>(nullptr));
    else
      execl(qemu.c_str(), qemu.c_str(), runner.c_str(), jobPath.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // The external patcher: a process of its own (it may be killed mid-plan), which seizes
  // the runner's threads once they run and applies the plan at the job's time.
  std::optional<PatcherOutcome> patched;
  if (job.patcher == HostPatcherKind::kExternal && pid > 0) patched = runExternalPatcher(pid, job);
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(outPath);
  std::stringstream text;
  text << in.rdbuf();
  std::filesystem::remove_all(dir);
  if (WIFSIGNALED(status))
    return internalError(fmt::format("{}: the runner died of {}", name, signalName(WTERMSIG(status))));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return internalError(fmt::format("{}: cannot run {} (build the {} target)", name, runner,
                                     job.arch == "arm64" ? "hph-host-aarch64" : "hph-host"));
  const json parsed = json::parse(text.str(), nullptr, false);
  std::string error;
  auto result = parsed.is_discarded() ? std::nullopt : hostResultFromJson(parsed, error);
  if (!result)
    return internalError(fmt::format("{}: the runner's result: {}", name, error.empty() ? "not JSON" : error));
  // A runner that refused its job speaks first: a patcher waiting for threads it never
  // started has nothing to add. Otherwise the patcher's own error is the more precise.
  if (result->movableSpanFits) return *result;
  const bool refused = WIFEXITED(status) && WEXITSTATUS(status) == kExitBadInput;
  if (!result->error.empty() && (refused || !patched || patched->error.empty()))
    return Error{refused ? Status::kBadInput : Status::kInternal,
                 fmt::format("{}: on the host: {}", name, result->error)};
  if (patched) {
    result->gaveUp = patched->gaveUp;
    result->moveRetries = patched->moveRetries;
    if (!patched->error.empty() && patched->gaveUp.empty())
      return internalError(fmt::format("{}: the external patcher: {}", name, patched->error));
    result->stepNanoseconds = patched->stepNanoseconds;
    result->applyNanoseconds = patched->applyNanoseconds;
    result->applicationNanoseconds = patched->applicationNanoseconds;
    // Through the agent, the runner's side acted for the patcher too.
    result->patcherRealTime = patched->realTime && (!threadsThroughAgent(job) || result->patcherRealTime);
  }
  return *result;
}

// --verified F: F must hold a `holds` verdict for these inputs, by digest.
Result<void> verifiedBy(const std::string& reportPath, const std::string& path, const ScenarioInputs& in,
                        const OnHostOptions& options) {
  if (options.reverse || options.applications > 1)
    return badInput(fmt::format("--verified {}: it verified the plan as {} states it; --reverse and "
                                "--applications apply another plan, which is explored here instead",
                                reportPath, path));
  std::ifstream file(reportPath);
  if (!file) return badInput(fmt::format("--verified {}: cannot read", reportPath));
  std::stringstream text;
  text << file.rdbuf();
  const json report = json::parse(text.str(), nullptr, false);
  if (report.is_discarded() || !report.contains("scenarios") || !report["scenarios"].is_array())
    return badInput(fmt::format("--verified {}: scenarios: not an hph check --json report", reportPath));
  const json mine = scenarioProvenance(in);
  for (const json& s : report["scenarios"]) {
    if (!s.contains("provenance")) continue;
    const json& p = s["provenance"];
    if (p.value("scenario_sha256", "") != mine["scenario_sha256"].get<std::string>() ||
        p.value("base_sha256", "") != mine["base_sha256"].get<std::string>() || !p.contains("patch_sha256") ||
        p["patch_sha256"] != mine["patch_sha256"])
      continue;
    if (s.value("verdict", "") != "holds")
      return badInput(fmt::format("{}: --verified {}: its verdict for these inputs is {}, not holds", path, reportPath,
                                  s.value("verdict", "?")));
    // A shard's `holds` says its part of the schedules holds, not the plan: only a whole
    // exploration (or hph merge of every shard, "0/1 (merged from N shards)") verifies.
    std::string explored = s.contains("exploration") ? s["exploration"].value("shard", "0/1") : "0/1";
    explored = explored.substr(0, explored.find(' '));
    if (explored != "0/1")
      return badInput(fmt::format("{}: --verified {}: exploration.shard: it explored shard {} only; merge every "
                                  "shard's report (hph merge) and pass the merged one",
                                  path, reportPath, explored));
    // A `holds` of a smaller search than the scenario asks for (another strategy, a lower
    // bound, fewer schedules: `hph check` options override the scenario's) verifies less.
    const json e = s.value("exploration", json::object());
    const ExploreSettings& asked = in.scenario.explore;
    const std::string strategy(strategyName(asked.strategy));
    if (e.value("strategy", "") != strategy)
      return badInput(fmt::format("{}: --verified {}: exploration.strategy: it explored by {}; the scenario asks {}",
                                  path, reportPath, e.value("strategy", "?"), strategy));
    if (asked.strategy == StrategyKind::kExhaustive && e.value("preemption_bound", 0u) < asked.preemptionBound)
      return badInput(fmt::format("{}: --verified {}: exploration.preemption_bound: it explored to bound {}; the "
                                  "scenario asks {}",
                                  path, reportPath, e.value("preemption_bound", 0u), asked.preemptionBound));
    if (asked.strategy != StrategyKind::kExhaustive && e.value("schedules", uint64_t{0}) < asked.scheduleLimit())
      return badInput(fmt::format("{}: --verified {}: exploration.schedules: it ran {}; the scenario asks {}", path,
                                  reportPath, e.value("schedules", uint64_t{0}), asked.scheduleLimit()));
    return {};
  }
  return badInput(
      fmt::format("{}: --verified {}: no verdict there for these inputs (scenario, base and patch digests differ)",
                  path, reportPath));
}

struct LatencySummary {
  double p50 = 0, p99 = 0, max = 0;
};

// Nearest-rank percentiles.
LatencySummary summarize(std::vector<uint64_t> ns) {
  std::sort(ns.begin(), ns.end());
  auto rank = [&](double p) {
    const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(ns.size())));
    return static_cast<double>(ns[std::min(ns.size() - 1, i == 0 ? 0 : i - 1)]);
  };
  return {rank(0.50), rank(0.99), static_cast<double>(ns.back())};
}

json reportOf(const std::string& path, const std::string& name, const HostVerdict& j, const HostResult* r,
              const OnHostOptions& options) {
  json out = {{"file", path},
              {"name", name},
              {"verdict", j.verdict},
              {"message", j.message},
              {"patcher", options.patcher},
              {"threads", options.threads}};
  if (r) {
    uint64_t total = 0;
    for (uint64_t c : r->calls) total += c;
    out["calls"] = total;
    out["calls_before_plan"] = r->callsBeforePlan;
    out["calls_after_plan"] = r->callsAfterPlan;
    out["apply_ns"] = r->applyNanoseconds;
    out["applications"] = r->applicationNanoseconds.size();
    if (!r->applicationNanoseconds.empty()) {
      const LatencySummary s = summarize(r->applicationNanoseconds);
      out["apply_ns_p50"] = s.p50;
      out["apply_ns_p99"] = s.p99;
      out["apply_ns_max"] = s.max;
    }
    out["step_ns"] = r->stepNanoseconds;
    out["move_retries"] = r->moveRetries;
    out["patcher_realtime"] = r->patcherRealTime;
    // Worker stall: what the threads' calls took while the plan was applied, against
    // steady state (HostResult).
    auto stall = [](const LatencyHistogram& h) {
      return json{{"calls", h.count()}, {"p50", h.percentile(0.5)}, {"p99", h.percentile(0.99)}, {"max", h.max()}};
    };
    out["call_ns"] = {{"steady", stall(r->callNsSteady)}, {"during_apply", stall(r->callNsDuringApply)}};
    out["invariant"] = r->invariant ? json(*r->invariant) : json(nullptr);
    // [onhost] counters: calls of the patched functions that ran the old and the new code.
    if (r->countersAtEnd) {
      out["old_calls"] = r->countersAtEnd->first - std::min(r->countersAtEnd->first, r->countersAtEnd->second);
      out["new_calls"] = r->countersAtEnd->second;
    }
    json bytes = json::array();
    for (const HostRegion& b : r->finalBytes)
      bytes.push_back({{"address", b.address}, {"bytes", hexBytes(b.bytes, HexLayout::kPacked)}});
    out["final_bytes"] = bytes;
    json changed = json::array();
    for (const HostRange& c : r->changed) changed.push_back({{"address", c.address}, {"size", c.size}});
    out["changed"] = changed;
    out["patcher_killed_after_step"] = options.killAfterStep ? json(*options.killAfterStep) : json(nullptr);
    out["kill_each_step_trials"] = options.killEachStep ? json(*options.killEachStep) : json(nullptr);
  }
  return out;
}

// Several scenarios: one row each, after their verdict lines.
void printVerdictTable(const json& scenarios) {
  auto count = [](const json& s, const char* key) { return s.contains(key) ? fmt::format("{}", s[key].dump()) : "-"; };
  fmt::print("\n{:<36} {:<22} {:>4} {:<10} {:>10} {:>10} {:>10} {:>10} {:>12}\n", "scenario", "verdict", "ok",
             "patcher", "threads", "before", "after", "new calls", "apply µs");
  for (const json& s : scenarios)
    fmt::print("{:<36} {:<22} {:>4} {:<10} {:>10} {:>10} {:>10} {:>10} {:>12.1f}\n", s.value("name", ""),
               s.value("verdict", ""), s.value("as_expected", false) ? "yes" : "NO", s.value("patcher", ""),
               s.value("threads", 0), count(s, "calls_before_plan"), count(s, "calls_after_plan"),
               count(s, "new_calls"), s.value("apply_ns", uint64_t{0}) / 1000.0);
}

// One scenario on the host, its images at `baseAddress` (their preferred base when unset),
// or where the runner says they would fit when a region of theirs is taken there.
struct OnHostScenario {
  std::optional<uint64_t> moveTo;  // where the base image goes, for the runner's free place
  std::string refusal;             // why the runner could not map them where they were
  int exitCode = kExitHolds;
  json report;
};

Result<OnHostScenario> onHostScenario(const std::string& path, const OnHostOptions& options,
                                      std::optional<uint64_t> baseAddress) {
  auto scenario = loadScenario(path);
  if (!scenario) return scenario.error();
  scenario->baseAddress = baseAddress;
  // Repeated applications undo each one before the next: the plan needs its unpatch,
  // and the forward part is the plan prepared without it.
  if (scenario->hybrid)
    return badInput(fmt::format("{}: arch: arm64ec: hph onhost runs x64 and Arm64 processes; a hybrid scenario is "
                                "checked by hph check's serial hybrid run only",
                                path));
  uint32_t forwardSteps = 0;
  if (options.applications > 1) {
    Scenario forward = *scenario;
    forward.reverse = false;
    auto once = prepareScenario(forward);
    if (!once) return once.error();
    forwardSteps = static_cast<uint32_t>((*once)->plan.steps.size());
  }
  scenario->reverse = scenario->reverse || options.reverse || options.applications > 1;
  auto inputs = prepareScenario(*scenario);
  if (!inputs) return inputs.error();
  const ScenarioInputs& in = **inputs;
  if (in.plan.steps.empty()) return badInput(fmt::format("{}: patch: the scenario applies no patch", path));
  if (std::string(in.base->arch->name()) == "arm64" && options.forceBoundaries)
    return badInput(fmt::format(
        "{}: arch: --force-boundaries parks threads by ptrace single-steps, which reach only the x64 runner "
        "(arm64 runs under qemu-aarch64, where ptrace sees qemu's own registers)",
        path));
  if (options.verifiedPath && !baseAddress) {
    if (auto verified = verifiedBy(*options.verifiedPath, path, in, options); !verified) return verified.error();
  } else if (!options.unverified) {
    if (options.verifiedPath)
      fmt::print(stderr,
                 "hph: note: {}: --verified {} verified the plan at the images' preferred base; they moved to 0x{:x} "
                 "on the host, so the plan built there is verified here\n",
                 path, *options.verifiedPath, *baseAddress);
    // One plan verified, then applied: the exploration `hph check` runs, here.
    ExploreOptions explore;
    explore.settings = in.scenario.explore;
    const ExploreResult verified = hph::explore(*inputs, explore);
    // As hph check judges: a search that left a site of the patch unexercised is vacuous,
    // not holds.
    const std::vector<std::string> sites = siteNames(in.layout.sites);
    const bool vacuous = !in.layout.sites.empty() && !unexercisedSites(sites, verified.exercise).empty();
    const bool cutShort = (in.scenario.explore.strategy == StrategyKind::kExhaustive && !verified.exhausted) ||
                          !verified.stoppedBy.empty();
    const bool holds = !verified.error && !verified.counterexample && !cutShort && !vacuous;
    if (!holds)
      return badInput(fmt::format(
          "{}: not verified: hph check does not find that it holds ({}); pass --unverified to apply it anyway", path,
          verified.counterexample ? propertyId(verified.counterexample->violation->property)
          : verified.error        ? verified.error->message
          : cutShort              ? "the search was cut short"
                                  : "vacuous: " + describeUnexercised(sites, verified.exercise)));
  } else {
    fmt::print(stderr, "hph: warning: {}: applying a plan that was not verified (--unverified)\n", path);
  }
  const HostPatcherKind patcherKind =
      options.patcher == "external" ? HostPatcherKind::kExternal : HostPatcherKind::kInProcess;
  if (auto refused =
          hostRefusal(readHostPolicy(), patcherKind, threadsThroughAgent(patcherKind, in.base->arch->name()), in.plan))
    return badInput(fmt::format("{}: this host: {}", path, *refused));
  if (options.killAfterStep && *options.killAfterStep > in.plan.steps.size())
    return badInput(
        fmt::format("--kill-after-step {}: {} has {} steps", *options.killAfterStep, path, in.plan.steps.size()));
  // One machine with the images loaded: the job's bytes, and the names of fault PCs.
  auto machine = Machine::create(*in.base->arch);
  if (!machine) return machine.error();
  if (auto loaded = loadPatchedImages(**machine, *in.base, in.layout); !loaded) return loaded.error();
  const Machine* m = machine->get();
  // The runs: one; or, killing the patcher after each step count K (0 .. every step),
  // `trials` runs per K, each judged against the state K steps leave.
  std::vector<std::optional<uint32_t>> kills{options.killAfterStep};
  const uint32_t trials = options.killEachStep.value_or(1);
  if (options.killEachStep) {
    kills.clear();
    for (uint32_t k = 0; k <= in.plan.steps.size(); ++k) kills.push_back(k);
  }
  Result<HostResult> result = internalError("no run");
  HostVerdict judged{"holds", "", kExitHolds};
  HostExpectation expectation;
  uint64_t runs = 0;
  for (const std::optional<uint32_t>& kill : kills) {
    expectation = {};
    auto job = buildJob(in, *m, options, kill, expectation);
    if (!job) return job.error();
    job->applications = options.applications;
    job->forwardSteps = forwardSteps;
    // --force-boundaries: one run per instruction boundary inside a live store, a thread
    // parked on it while the plan lands; the first violation is the verdict.
    std::vector<std::optional<uint64_t>> parks{std::nullopt};
    if (options.forceBoundaries) {
      parks.clear();
      for (uint64_t b : boundariesInsideLiveStores(*job, *in.base->arch, in.plan.steps.size())) parks.push_back(b);
      if (parks.empty()) {
        fmt::print("  no instruction boundary lies inside a live store of {}: nothing to force\n", in.scenario.name);
        parks.push_back(std::nullopt);
      }
    }
    for (const std::optional<uint64_t>& park : parks) {
      for (uint32_t trial = 0; trial < trials && judged.verdict == "holds"; ++trial) {
        job->parkAt = park;
        result = runRunner(*job, in.scenario.name, options.jobPath);
        if (!result) return result.error();
        if (result->movableSpanFits)
          return OnHostScenario{.moveTo = *result->movableSpanFits + (in.base->imageBase - job->movable->begin),
                                .refusal = result->error};
        ++runs;
        judged = judgeHostRun(in, *result, expectation, m);
        if (park)
          judged.message = fmt::format("a thread parked at {}{}{}", m ? m->describeAddress(*park) : "",
                                       judged.message.empty() ? "" : ": ", judged.message);
        if (options.killEachStep && judged.verdict != "holds")
          judged.message =
              fmt::format("patcher killed after step {}, trial {} of {}: {}", *kill, trial + 1, trials, judged.message);
      }
      if (judged.verdict != "holds") break;
    }
    if (judged.verdict != "holds") break;
  }
  // The host cannot name the emulator's properties: a canary expecting any violation
  // is caught by any violation the host sees (a fault, the invariant, stray bytes).
  const bool expected = in.scenario.expect.kind == VerdictKind::kViolation
                            ? judged.verdict.starts_with("violation:")
                            : judged.verdict == verdictText(in.scenario.expect);
  const int exitCode = expected ? kExitHolds : judged.exitCode == kExitHolds ? kExitViolated : judged.exitCode;
  uint64_t calls = 0;
  for (uint64_t c : result->calls) calls += c;
  const std::string applied =
      options.killEachStep ? fmt::format("patcher killed after each step count 0..{}, {} trial{} each ({} runs)",
                                         in.plan.steps.size(), trials, trials == 1 ? "" : "s", runs)
      : options.killAfterStep
          ? fmt::format("patcher killed after step {}", *options.killAfterStep)
          : fmt::format("applied in {:.1f} µs", static_cast<double>(result->applyNanoseconds) / 1000.0);
  const std::string bytesSaid = judged.verdict != "holds" || expectation.bytes.empty() ? ""
                                : options.killEachStep  ? "; every run's bytes were the plan's state after its steps"
                                : options.killAfterStep ? "; the bytes are the plan's state after those steps"
                                : !expectation.original.empty()
                                    ? "; patched bytes equal the emulator's and, reversed, what they were before"
                                    : "; patched bytes equal the emulator's";
  fmt::print("{} {}: {} on the host{} — {} patcher, {} threads, {} calls{} ({} before the plan, {} after), {}{}\n",
             expected ? "PASS" : "FAIL", in.scenario.name, judged.verdict,
             expected ? "" : fmt::format(" (expected {})", verdictText(in.scenario.expect)), options.patcher,
             options.threads, calls, runs > 1 ? " in the last run" : "", result->callsBeforePlan,
             result->callsAfterPlan, applied, bytesSaid);
  if (!judged.message.empty()) fmt::print("  {}\n", judged.message);
  // What a pass did not look at: which code the calls after the plan ran (the new code; the
  // old after a reversed plan), which only the [onhost] counters tell.
  const std::string codeUnchecked = expectation.newAfterPlan.has_value() || in.layout.sites.empty() ? ""
                                    : !in.onHostCalls ? "the scenario has no [onhost] counters"
                                    : options.killAfterStep || options.killEachStep
                                        ? "the patcher was killed"
                                        : "each application ends with the unpatch";
  if (!codeUnchecked.empty())
    fmt::print("  not checked: which code the calls after the plan ran ({})\n", codeUnchecked);
  if (result->applicationNanoseconds.size() > 1) {
    const LatencySummary s = summarize(result->applicationNanoseconds);
    fmt::print("  {} applications: p50 {:.1f} µs, p99 {:.1f} µs, max {:.1f} µs\n",
               result->applicationNanoseconds.size(), s.p50 / 1000.0, s.p99 / 1000.0, s.max / 1000.0);
    auto said = [](const LatencyHistogram& h) {
      return fmt::format("p50 {:.1f} µs, p99 {:.1f} µs, max {:.1f} µs over {} calls", h.percentile(0.5) / 1000.0,
                         h.percentile(0.99) / 1000.0, static_cast<double>(h.max()) / 1000.0, h.count());
    };
    fmt::print("  worker calls while applying: {}; steady: {}\n", said(result->callNsDuringApply),
               said(result->callNsSteady));
  }
  OnHostScenario done{.exitCode = exitCode, .report = reportOf(path, in.scenario.name, judged, &*result, options)};
  done.report["runs"] = runs;
  done.report["as_expected"] = expected;
  done.report["code_after_plan_checked"] = codeUnchecked.empty();
  done.report["image_base"] = in.base->imageBase;
  return done;
}

// A runner that finds the place it was given taken too, again and again, is not chased further.
constexpr int kMaxRelocations = 3;

}  // namespace

int runOnHost(const OnHostOptions& options) {
  if (options.patcher != "in-process" && options.patcher != "external")
    return reportError(badInput(fmt::format("--patcher '{}': not in-process or external", options.patcher)));
  if (options.threads == 0 || options.threads > 64) return reportError(badInput("--threads: 1 to 64"));
  if (options.applications == 0 || options.applications > 100000)
    return reportError(badInput("--applications: 1 to 100000"));
  if (options.forceBoundaries && options.patcher != "external")
    return reportError(badInput("--force-boundaries: threads are parked by ptrace (--patcher external)"));
  if (options.applications > 1 && options.killAfterStep)
    return reportError(badInput("--applications: not with --kill-after-step"));
  if (options.killAfterStep && options.patcher != "external")
    return reportError(badInput("--kill-after-step: only the external patcher can be killed (--patcher external)"));
  if (options.killEachStep) {
    if (options.killAfterStep) return reportError(badInput("--kill-each-step: not with --kill-after-step"));
    if (options.patcher != "external")
      return reportError(badInput("--kill-each-step: only the external patcher can be killed (--patcher external)"));
    if (options.applications > 1) return reportError(badInput("--applications: not with --kill-each-step"));
    if (*options.killEachStep == 0 || *options.killEachStep > 100000)
      return reportError(badInput("--kill-each-step: 1 to 100000 trials"));
  }
  if (!(options.duration >= 0.02 && options.duration <= 600))
    return reportError(badInput("--duration: 0.02 to 600 seconds"));
  const auto started = std::chrono::steady_clock::now();
  json scenarios = json::array();
  int worst = kExitHolds;
  for (const std::string& path : options.scenarios) {
    // The host runner maps the images at the emulator's addresses. When it finds one
    // taken, the images move (as the loader moves them) to a place it found free: the
    // layout, the plan and its verification are redone there, and a new runner tries.
    std::optional<uint64_t> baseAddress;
    for (int moves = 0;; ++moves) {
      auto outcome = onHostScenario(path, options, baseAddress);
      if (!outcome) return reportError(outcome.error());
      if (!outcome->moveTo) {
        if (baseAddress)
          fmt::print("  the images were relocated: their preferred base was taken on the host, so they were laid "
                     "out, verified and applied at 0x{:x}\n",
                     *baseAddress);
        scenarios.push_back(std::move(outcome->report));
        worst = std::max(worst, outcome->exitCode);
        break;
      }
      if (moves == kMaxRelocations)
        return reportError(badInput(
            fmt::format("{}: on the host: {} (moved {} times, taken each time)", path, outcome->refusal, moves)));
      baseAddress = outcome->moveTo;
    }
  }
  if (scenarios.size() > 1) printVerdictTable(scenarios);
  if (options.sarifPath) {
    std::ofstream out(*options.sarifPath);
    out << sarifOnHostLog(scenarios).dump(2) << "\n";
    if (!out) return reportError(badInput(fmt::format("--sarif {}: cannot write", *options.sarifPath)));
  }
  if (options.junitPath) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::ofstream out(*options.junitPath);
    out << junitOnHostXml(scenarios, seconds);
    if (!out) return reportError(badInput(fmt::format("--junit {}: cannot write", *options.junitPath)));
  }
  if (options.jsonPath) {
    std::ofstream out(*options.jsonPath);
    out << json{{"schema", "hph-onhost/1"}, {"scenarios", scenarios}, {"exit_code", worst}}.dump(2) << "\n";
    if (!out) return reportError(badInput(fmt::format("--json {}: cannot write", *options.jsonPath)));
  }
  return worst;
}

}  // namespace hph
