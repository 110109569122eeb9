// What exploring schedules costs, measured side by side with raw Unicorn in one run:
//   Raw/<arch>          the workload on a bare engine: no hooks, no threads (the ceiling)
//   Watched/<arch>      the same code as 4 guest threads, points = "watched" (tick only)
//   Switches/<arch>     every instruction a scheduling point, a switch at every one
//   Schedules/<jobs>    a small scenario (4 threads x 40 calls of a watched bump)
// Counters: instructions/s, switches/s, schedules/s (rates over wall time).
#include <benchmark/benchmark.h>

#include <cstring>

#include "emu/pe/ImageLoader.h"
#include "harness/explore/Explorer.h"
#include "harness/explore/RandomStrategy.h"
#include "harness/explore/Session.h"

namespace hph {
namespace {

std::string corpus(const std::string& path) { return std::string(HPH_CORPUS_DIR) + "/" + path; }

std::shared_ptr<const ScenarioInputs> scenarioInputs(const std::string& file,
                                                     const std::function<void(Scenario&)>& adjust = {}) {
  auto scenario = loadScenario(corpus("scenarios/" + file));
  if (!scenario) throw std::runtime_error(scenario.error().message);
  if (adjust) adjust(*scenario);
  auto inputs = prepareScenario(*scenario);
  if (!inputs) throw std::runtime_error(inputs.error().message);
  return *inputs;
}

// The workload on an engine with nothing attached: Arch::prepareCall and plain memory.
void emptyBlockHook(uc_engine*, uint64_t, uint32_t, void*) {}

void Raw(benchmark::State& state, const std::string& arch, bool blockHook) {
  auto image = readPeImage(corpus("images/workload." + arch + ".dll"));
  const Arch& a = *image->arch;
  Engine engine = std::move(a.openEngine()).value();
  uc_mem_map(engine.get(), image->imageBase, (image->sizeOfImage + 0xFFF) & ~0xFFFu, UC_PROT_ALL);
  for (const SectionInfo& s : image->sections) {
    auto bytes = image->bytesAt(s.virtualAddress, s.end() - s.virtualAddress);
    engine.write(image->imageBase + s.virtualAddress, bytes);
  }
  const uint64_t stack = 0x7FF000000000, sentinel = 0x7FF100000800;
  uc_mem_map(engine.get(), stack, 0x100000, UC_PROT_READ | UC_PROT_WRITE);
  uc_mem_map(engine.get(), sentinel & ~0xFFFull, 0x1000, UC_PROT_ALL);
  const uint64_t entry = image->imageBase + image->findFunction("work")->begin;
  uc_hook hook;
  if (blockHook)
    uc_hook_add(engine.get(), &hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(&emptyBlockHook), nullptr, 1, 0);

  // The instruction count of the same calls, from the harness (which counts them).
  auto machine = std::move(Machine::create(a)).value();
  auto loaded = loadImage(*machine, *image);
  uint64_t perSchedule = 0;
  for (uint64_t t = 0; t < 4; ++t) perSchedule += machine->call(entry, std::vector<uint64_t>{t}).value().instructions;

  const uint64_t expected = machine->call(entry, std::vector<uint64_t>{3}).value().value;
  for (auto _ : state) {
    for (uint64_t t = 0; t < 4; ++t) {
      const uint64_t args[] = {t};
      (void)a.prepareCall(engine, CallFrame{entry, args, stack + 0x100000, sentinel});
      if (uc_emu_start(engine.get(), entry, sentinel, 0, 0) != UC_ERR_OK || engine.reg(a.pcRegister()) != sentinel)
        state.SkipWithError("raw run did not return");
    }
  }
  if (a.returnValue(engine) != expected) state.SkipWithError("raw run computed something else");
  state.counters["instructions/s"] =
      benchmark::Counter(static_cast<double>(perSchedule * state.iterations()), benchmark::Counter::kIsRate);
}

void Watched(benchmark::State& state, const std::string& arch) {
  auto session = std::move(Session::create(scenarioInputs("workload." + arch + ".toml"), false)).value();
  // Exploration runs in fast mode, which does not count; the workload's instruction count
  // does not depend on the schedule, so one counted run (a traced one) gives it.
  RandomStrategy counted(1, 0, 0.25);
  const uint64_t perSchedule = session->run(counted, true).instructions;
  uint64_t instructions = 0, switches = 0, index = 0;
  for (auto _ : state) {
    RandomStrategy random(1, index++, 0.25);
    const RunRecord run = session->run(random);
    if (run.violation || run.error) state.SkipWithError("workload failed");
    instructions += perSchedule;
    switches += run.preemptions;
  }
  state.counters["instructions/s"] = benchmark::Counter(static_cast<double>(instructions), benchmark::Counter::kIsRate);
  state.counters["switches/s"] = benchmark::Counter(static_cast<double>(switches), benchmark::Counter::kIsRate);
}

void Switches(benchmark::State& state, const std::string& arch) {
  auto inputs = scenarioInputs("race." + arch + ".toml", [](Scenario& s) {
    s.threadEntry = "atomic_worker";
    s.explore.watch.clear();
    s.explore.points = PointsMode::kAll;
  });
  auto session = std::move(Session::create(inputs, false)).value();
  uint64_t switches = 0, index = 0;
  for (auto _ : state) {
    RandomStrategy always(1, index++, 1.0);  // switch at every instruction
    switches += session->run(always).preemptions;
  }
  state.counters["switches/s"] = benchmark::Counter(static_cast<double>(switches), benchmark::Counter::kIsRate);
}

// 4 threads x 40 calls of `bump` (watched), random schedules, on 1 or 2 jobs.
void Schedules(benchmark::State& state) {
  auto inputs = scenarioInputs("atomic.x64.toml", [](Scenario& s) {
    s.base = corpus("images/counter.x64.dll");
    s.threadEntry = "worker";
    s.invariant = "verify";
    s.explore.watch = {"bump"};
  });
  ExploreOptions options;
  options.settings.strategy = StrategyKind::kRandom;
  options.settings.schedules = 200;
  options.settings.jobs = static_cast<uint32_t>(state.range(0));
  uint64_t schedules = 0;
  for (auto _ : state) {
    const ExploreResult r = explore(inputs, options);
    if (r.error || r.counterexample) state.SkipWithError("unexpected result");
    schedules += r.schedules;
  }
  state.counters["schedules/s"] = benchmark::Counter(static_cast<double>(schedules), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(Raw, x64_empty_block_hook, std::string("x64"), true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(Raw, x64, std::string("x64"), false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(Watched, x64, std::string("x64"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(Raw, arm64, std::string("arm64"), false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(Watched, arm64, std::string("arm64"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(Switches, x64, std::string("x64"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(Switches, arm64, std::string("arm64"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Schedules)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace hph
