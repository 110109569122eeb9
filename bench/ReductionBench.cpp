// What exhaustive exploration costs as a workload grows, side by side in one run:
//   Growth/<reduction>_<arch>/calls:N/bound:K  3 threads calling the patched `bump` N
//       times each (counter's worker_N), one safe protocol per architecture
//       (padding-short-jmp on x64, b-direct over the entry NOP on Arm64), exhaustive at
//       bound K: schedules explored and schedules/s
//   Growth/dpor_from_start_<arch>/...  the same dpor searches with every run
//       re-executed from the start (no checkpoints): us/schedule against the calls
//   Growth/dpor_watched_<arch>/...  the same dpor searches with a point before every
//       watched instruction (points = "watched") instead of only the visible ones
//   Growth/dpor_adds_conflict_<arch>/...  the same with atomic adds (x64 LOCK adds, Arm64
//       exclusive loops) conflicting as writes (atomic_adds_commute off): the schedules
//       the commutation saves
//   MustShow/jobs:N    the 40-call x64 scenario at bound 2, exhaustive, on 1 and 2 jobs
//                      (issue 12's "must show": a verdict in under 60 s on 2 cores)
//   Jobs/jobs:N        the 40-call x64 scenario at bound 1 on 1 and 2 jobs (the ratio of
//                      their times is the speed-up)
//   Resident/schedules:N  resident memory after N random schedules of the 40-call
//                      scenario (a flat row of figures: memory does not grow with length)
// Each iteration is one whole exploration (Iterations(1): they take seconds).
#include <benchmark/benchmark.h>

#include <fstream>

#include "harness/explore/Explorer.h"

namespace hph {
namespace {

std::string corpus(const std::string& path) { return std::string(HPH_CORPUS_DIR) + "/" + path; }

std::shared_ptr<const ScenarioInputs> scaled(const std::string& arch, uint64_t calls,
                                             PointsMode points = PointsMode::kVisible) {
  const std::string file = arch == "x64" ? "patch-padding-short-jmp.x64.toml" : "patch-b-direct.arm64.toml";
  auto scenario = loadScenario(corpus("scenarios/" + file));
  if (!scenario) throw std::runtime_error(scenario.error().message);
  scenario->explore.points = points;
  scenario->threadEntry = calls == 2 ? "patch_worker" : calls == 40 ? "worker" : "worker_" + std::to_string(calls);
  auto inputs = prepareScenario(*scenario);
  if (!inputs) throw std::runtime_error(inputs.error().message);
  return *inputs;
}

ExploreResult exhaustive(benchmark::State& state, const std::shared_ptr<const ScenarioInputs>& inputs, uint32_t bound,
                         Reduction reduction, uint32_t jobs, bool checkpoints = true, bool commute = true) {
  ExploreOptions options;
  options.settings.checkpoints = checkpoints;
  options.settings.atomicAddsCommute = commute;
  options.settings.strategy = StrategyKind::kExhaustive;
  options.settings.preemptionBound = bound;
  options.settings.reduction = reduction;
  options.settings.jobs = jobs;
  ExploreResult result;
  uint64_t schedules = 0;
  for (auto _ : state) {
    result = explore(inputs, options);
    if (result.error || result.counterexample || !result.exhausted) state.SkipWithError("not a full, safe search");
    schedules += result.schedules;
  }
  state.counters["schedules"] = static_cast<double>(result.schedules);
  state.counters["schedules/s"] = benchmark::Counter(static_cast<double>(schedules), benchmark::Counter::kIsRate);
  state.counters["us/schedule"] = benchmark::Counter(static_cast<double>(schedules) / 1e6,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  return result;
}

void Growth(benchmark::State& state, Reduction reduction, const std::string& arch, bool checkpoints = true,
            bool commute = true, PointsMode points = PointsMode::kVisible) {
  exhaustive(state, scaled(arch, static_cast<uint64_t>(state.range(0)), points), static_cast<uint32_t>(state.range(1)),
             reduction, 1, checkpoints, commute);
}

void MustShow(benchmark::State& state) {
  exhaustive(state, scaled("x64", 40), 2, Reduction::kDpor, static_cast<uint32_t>(state.range(0)));
}

void Jobs(benchmark::State& state) {
  exhaustive(state, scaled("x64", 40), 1, Reduction::kDpor, static_cast<uint32_t>(state.range(0)));
}

double residentMegabytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * 4096 / (1 << 20);
}

void Resident(benchmark::State& state) {
  auto inputs = scaled("x64", 40);
  ExploreOptions options;
  options.settings.strategy = StrategyKind::kRandom;
  options.settings.schedules = static_cast<uint64_t>(state.range(0));
  options.settings.jobs = 1;
  for (auto _ : state) {
    const ExploreResult r = explore(inputs, options);
    if (r.error || r.counterexample) state.SkipWithError("unexpected result");
  }
  state.counters["resident_MB"] = residentMegabytes();
}

// Bound 2 only where a search takes well under a minute (MustShow has x64 at 40 calls).
void growthArgs(benchmark::internal::Benchmark* b, std::initializer_list<int64_t> bound2Calls) {
  for (int64_t calls : {2, 5, 10, 20, 40}) b->Args({calls, 1});
  for (int64_t calls : bound2Calls) b->Args({calls, 2});
  b->ArgNames({"calls", "bound"})->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
}

BENCHMARK_CAPTURE(Growth, dpor_x64, Reduction::kDpor, std::string("x64"))->Apply([](auto* b) {
  growthArgs(b, {2, 5, 10, 20});
});
BENCHMARK_CAPTURE(Growth, dpor_adds_conflict_x64, Reduction::kDpor, std::string("x64"), true, false)
    ->Apply([](auto* b) { growthArgs(b, {2, 5, 10}); });
BENCHMARK_CAPTURE(Growth, sleep_sets_x64, Reduction::kSleepSets, std::string("x64"))->Apply([](auto* b) {
  growthArgs(b, {});
});
BENCHMARK_CAPTURE(Growth, dpor_watched_x64, Reduction::kDpor, std::string("x64"), true, true, PointsMode::kWatched)
    ->Apply([](auto* b) { growthArgs(b, {2, 5, 10, 20}); });
BENCHMARK_CAPTURE(Growth, dpor_arm64, Reduction::kDpor, std::string("arm64"))->Apply([](auto* b) {
  growthArgs(b, {2, 5, 10});
});
BENCHMARK_CAPTURE(Growth, dpor_watched_arm64, Reduction::kDpor, std::string("arm64"), true, true, PointsMode::kWatched)
    ->Apply([](auto* b) { growthArgs(b, {2, 5, 10}); });
BENCHMARK_CAPTURE(Growth, dpor_adds_conflict_arm64, Reduction::kDpor, std::string("arm64"), true, false)
    ->Apply([](auto* b) { growthArgs(b, {2}); });
BENCHMARK_CAPTURE(Growth, dpor_from_start_x64, Reduction::kDpor, std::string("x64"), false)->Apply([](auto* b) {
  growthArgs(b, {2, 5, 10});
});
BENCHMARK_CAPTURE(Growth, dpor_from_start_arm64, Reduction::kDpor, std::string("arm64"), false)->Apply([](auto* b) {
  growthArgs(b, {2});
});
BENCHMARK(MustShow)->Arg(1)->Arg(2)->ArgName("jobs")->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(Jobs)->Arg(1)->Arg(2)->ArgName("jobs")->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(Resident)
    ->Arg(2000)
    ->Arg(8000)
    ->Arg(32000)
    ->ArgName("schedules")
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
}  // namespace hph
