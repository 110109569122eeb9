// What the release gate costs, on the bundled patch scenarios (2 jobs, as CI has 2 cores):
//   FirstCounterexample/naive_jmp5        the X2 canary as bundled (a static store rule)
//   FirstCounterexample/naive_jmp5_dynamic  X2 ignored: a thread must be caught resuming
//                                         inside the new jump (C2), by exploration
//   Bound2/<scenario>                     exhaustive, preemption bound 2, every checker on
//   FetchModel/<scenario>/{on,off}        the same exploration with and without the Arm64
//                                         fetch model (its overhead)
// Counters: schedules, schedules/s; the time per iteration is the whole exploration.
#include <benchmark/benchmark.h>

#include "harness/explore/Explorer.h"
#include "harness/explore/Session.h"

namespace hph {
namespace {

std::shared_ptr<const ScenarioInputs> patchScenario(const std::string& file,
                                                    const std::function<void(Scenario&)>& adjust = {}) {
  auto scenario = loadScenario(std::string(HPH_CORPUS_DIR) + "/scenarios/" + file);
  if (!scenario) throw std::runtime_error(scenario.error().message);
  if (adjust) adjust(*scenario);
  auto inputs = prepareScenario(*scenario);
  if (!inputs) throw std::runtime_error(inputs.error().message);
  return *inputs;
}

void exploreAll(benchmark::State& state, const std::shared_ptr<const ScenarioInputs>& inputs, bool wantViolation) {
  ExploreOptions options;
  options.settings.strategy = StrategyKind::kExhaustive;
  options.settings.schedules = kDefaultExhaustiveCap;
  options.settings.preemptionBound = 2;
  options.settings.jobs = 2;
  uint64_t schedules = 0;
  for (auto _ : state) {
    const ExploreResult r = explore(inputs, options);
    if (r.error) state.SkipWithError(r.error->message.c_str());
    if (r.counterexample.has_value() != wantViolation) state.SkipWithError("unexpected verdict");
    schedules += r.schedules;
  }
  state.counters["schedules"] = static_cast<double>(schedules) / static_cast<double>(state.iterations());
  state.counters["schedules/s"] = benchmark::Counter(static_cast<double>(schedules), benchmark::Counter::kIsRate);
}

void FirstCounterexample(benchmark::State& state, bool dynamicOnly) {
  exploreAll(state,
             patchScenario("patch-naive-jmp5.x64.toml",
                           [&](Scenario& s) {
                             if (dynamicOnly) s.ignore = {Property::kX2};
                           }),
             true);
}

void Bound2(benchmark::State& state, const std::string& file) { exploreAll(state, patchScenario(file), false); }

void FetchModel(benchmark::State& state, const std::string& file, bool on) {
  exploreAll(state, patchScenario(file, [&](Scenario& s) { s.arm64.model = on; }), false);
}

}  // namespace

BENCHMARK_CAPTURE(FirstCounterexample, naive_jmp5, false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(FirstCounterexample, naive_jmp5_dynamic, true)->Unit(benchmark::kMillisecond)->UseRealTime();
#define HPH_BOUND2(name, file)                                                                                         \
  BENCHMARK_CAPTURE(Bound2, name, std::string(file))->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1)
HPH_BOUND2(padding_short_jmp_x64, "patch-padding-short-jmp.x64.toml");
HPH_BOUND2(int3_3step_x64, "patch-int3-3step.x64.toml");
HPH_BOUND2(stop_the_world_x64, "patch-stop-the-world.x64.toml");
HPH_BOUND2(series_x64, "patch-series.x64.toml");
HPH_BOUND2(b_direct_arm64, "patch-b-direct.arm64.toml");
HPH_BOUND2(veneer_arm64, "patch-veneer.arm64.toml");
HPH_BOUND2(literal_swap_arm64, "patch-literal-swap.arm64.toml");
HPH_BOUND2(stop_the_world_arm64, "patch-stop-the-world.arm64.toml");
HPH_BOUND2(series_arm64, "patch-series.arm64.toml");
#define HPH_FETCH(name, file)                                                                                          \
  BENCHMARK_CAPTURE(FetchModel, name##_on, std::string(file), true)                                                    \
      ->Unit(benchmark::kSecond)                                                                                       \
      ->UseRealTime()                                                                                                  \
      ->Iterations(1);                                                                                                 \
  BENCHMARK_CAPTURE(FetchModel, name##_off, std::string(file), false)                                                  \
      ->Unit(benchmark::kSecond)                                                                                       \
      ->UseRealTime()                                                                                                  \
      ->Iterations(1)
HPH_FETCH(b_direct_arm64, "patch-b-direct.arm64.toml");
HPH_FETCH(veneer_arm64, "patch-veneer.arm64.toml");

}  // namespace hph
