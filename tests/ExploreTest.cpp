// Schedule exploration on the corpus: exact counts that can be derived by hand, races
// found by every strategy, atomic twins that hold, determinism across jobs and shards,
// and the patcher landing between any two instructions.
#include <gtest/gtest.h>

#include <set>

#include "harness/explore/DepthFirstSearch.h"
#include "harness/explore/Explorer.h"
#include "harness/explore/RandomStrategy.h"
#include "harness/explore/ReplaySource.h"
#include "harness/explore/Session.h"
#include "support/HexText.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

// A corpus scenario, adjusted by the test, ready to explore.
std::shared_ptr<const ScenarioInputs> prepared(const std::string& name,
                                               const std::function<void(Scenario&)>& adjust = {}) {
  return preparedScenario(corpusScenario(name), adjust);
}

ExploreOptions optionsFor(StrategyKind strategy, uint64_t schedules = 1000000) {
  ExploreOptions o;
  o.settings.strategy = strategy;
  o.settings.schedules = schedules;
  o.settings.jobs = 1;
  return o;
}

// The number of instructions of a function, decoded from the image.
uint64_t instructionCount(const PeImage& image, const std::string& function) {
  const FunctionInfo* f = image.findFunction(function);
  const std::vector<uint8_t> code = image.bytesAt(f->begin, f->end - f->begin);
  uint64_t count = 0;
  for (size_t at = 0; at < code.size(); ++count) at += image.arch->decode(std::span(code).subspan(at), 0).length;
  return count;
}

class Explore : public ::testing::TestWithParam<std::string> {
 protected:
  std::string scenario(const std::string& stem) { return stem + "." + GetParam() + ".toml"; }
};

// Two threads, each hitting a scheduling points, preemption bound 1, no reduction:
// each of the 2 initial orders runs alone (2), or is preempted once at one of the a
// points of the thread that started (a + a). RACE_ITERATIONS = 3 calls per thread.
TEST_P(Explore, ExhaustiveCountMatchesTheHandDerivation) {
  auto inputs = prepared(scenario("race"), [](Scenario& s) {
    s.explore.reduction = Reduction::kNone;
    s.explore.points = PointsMode::kWatched;  // a point before every instruction counted below
    s.invariant = "race_counter";             // never 0: explore everything, no early stop
  });
  ASSERT_TRUE(inputs);
  const uint64_t a = 3 * instructionCount(*inputs->base, "racy_increment");
  ExploreOptions o = optionsFor(StrategyKind::kExhaustive);
  o.settings.reduction = Reduction::kNone;
  o.settings.preemptionBound = 1;
  const ExploreResult r = explore(inputs, o);
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_FALSE(r.counterexample);
  EXPECT_TRUE(r.exhausted);
  EXPECT_EQ(r.schedules, 2 + a + a) << "a = " << a;
  // Bound 0: only the two thread orders.
  o.settings.preemptionBound = 0;
  EXPECT_EQ(explore(inputs, o).schedules, 2u);
}

TEST_P(Explore, ExhaustiveFindsTheRaceWithOnePreemptionNotZero) {
  auto inputs = prepared(scenario("race"));
  ExploreOptions o = optionsFor(StrategyKind::kExhaustive);
  o.settings.preemptionBound = 0;
  const ExploreResult none = explore(inputs, o);
  EXPECT_FALSE(none.counterexample);
  EXPECT_TRUE(none.exhausted);
  o.settings.preemptionBound = 1;
  const ExploreResult found = explore(inputs, o);
  ASSERT_TRUE(found.counterexample);
  EXPECT_EQ(propertyId(found.counterexample->violation->property), "invariant");
  EXPECT_EQ(found.counterexample->preemptions, 1u);
  EXPECT_EQ(found.counterexample->invariantValue, 0u);
}

TEST_P(Explore, RandomAndPctFindTheRace) {
  auto inputs = prepared(scenario("race"));
  for (StrategyKind strategy : {StrategyKind::kRandom, StrategyKind::kPct}) {
    ExploreOptions o = optionsFor(strategy, 500);
    o.settings.depth = 2;
    const ExploreResult r = explore(inputs, o);
    ASSERT_TRUE(r.counterexample) << strategyName(strategy);
    EXPECT_EQ(propertyId(r.counterexample->violation->property), "invariant");
    EXPECT_LT(r.schedules, 500u);
    // Minimised: one preemption suffices for a lost update.
    EXPECT_EQ(r.counterexample->preemptions, 1u) << strategyName(strategy);
  }
}

TEST_P(Explore, PctFindsTheDepthTwoOrderingBug) {
  auto inputs = prepared(scenario("ordering"));
  ExploreOptions o = optionsFor(StrategyKind::kPct, 2000);
  o.settings.depth = 2;
  o.settings.seed = 7;
  const ExploreResult r = explore(inputs, o);
  ASSERT_TRUE(r.counterexample);
  EXPECT_EQ(propertyId(r.counterexample->violation->property), "invariant");
  // Depth 1 (no priority change) never preempts: it cannot find a depth-2 bug.
  o.settings.depth = 1;
  EXPECT_FALSE(explore(inputs, o).counterexample);
}

TEST_P(Explore, AtomicTwinHoldsWithFourAndSixtyFourThreads) {
  auto four = prepared(scenario("atomic"));
  ExploreOptions o = optionsFor(StrategyKind::kExhaustive);
  o.settings.preemptionBound = 2;
  // Every order of the atomic adds, not one: commuting adds would make this one schedule.
  o.settings.atomicAddsCommute = false;
  const ExploreResult r4 = explore(four, o);
  EXPECT_FALSE(r4.counterexample) << r4.counterexample->violation->message;
  EXPECT_TRUE(r4.exhausted);
  EXPECT_GT(r4.schedules, 100u);

  auto many = prepared(scenario("atomic64"));
  ExploreOptions random = optionsFor(StrategyKind::kRandom, 20);
  random.settings.switchProbability = 0.3;
  const ExploreResult r64 = explore(many, random);
  EXPECT_FALSE(r64.counterexample);
  EXPECT_EQ(r64.schedules, 20u);
  // ...while the racy version with 64 threads loses updates.
  auto racy = prepared(scenario("atomic64"), [](Scenario& s) { s.threadEntry = "race_worker"; });
  EXPECT_TRUE(explore(racy, random).counterexample);
}

TEST_P(Explore, SleepSetsReduceButKeepTheBugs) {
  // Two threads, bound 3 (measured: x64 266 -> 194 schedules, Arm64 21476 -> 5804).
  ExploreOptions o = optionsFor(StrategyKind::kExhaustive);
  o.settings.preemptionBound = 3;
  auto atomic = prepared(scenario("atomic"), [](Scenario& s) { s.threadCount = 2; });
  o.settings.reduction = Reduction::kNone;
  const ExploreResult full = explore(atomic, o);
  o.settings.reduction = Reduction::kSleepSets;
  const ExploreResult reduced = explore(atomic, o);
  EXPECT_TRUE(full.exhausted && reduced.exhausted);
  EXPECT_FALSE(full.counterexample || reduced.counterexample);
  EXPECT_LT(reduced.schedules, full.schedules);
  auto race = prepared(scenario("race"));
  o.settings.preemptionBound = 1;
  EXPECT_TRUE(explore(race, o).counterexample);
}

TEST_P(Explore, JobsDoNotChangeTheResult) {
  for (StrategyKind strategy : {StrategyKind::kExhaustive, StrategyKind::kRandom}) {
    for (const char* stem : {"race", "atomic"}) {
      auto inputs = prepared(scenario(stem), [](Scenario& s) { s.threadCount = std::min(s.threadCount, 3u); });
      ExploreOptions o = optionsFor(strategy, strategy == StrategyKind::kRandom ? 300 : 1000000);
      const ExploreResult one = explore(inputs, o);
      o.settings.jobs = 2;
      const ExploreResult two = explore(inputs, o);
      EXPECT_EQ(one.schedules, two.schedules) << stem;
      EXPECT_EQ(one.exhausted, two.exhausted);
      ASSERT_EQ(one.counterexample.has_value(), two.counterexample.has_value());
      if (one.counterexample) {
        EXPECT_EQ(one.counterexample->decisions, two.counterexample->decisions);
      }
    }
  }
}

// The vacuity counters of a sampled run with a violation count the schedules up to it
// only: a second job finishing schedules past it must not add to them.
TEST_P(Explore, JobsDoNotChangeTheVacuityCountersOfAViolatedRun) {
  const std::string stem = GetParam() == "x64" ? "canary-impure-call" : "canary-stale-veneer";
  // A point before every watched instruction: more points for the rare switches to miss.
  auto inputs =
      prepared(stem + "." + GetParam() + ".toml", [](Scenario& s) { s.explore.points = PointsMode::kWatched; });
  ASSERT_TRUE(inputs);
  ExploreOptions o = optionsFor(StrategyKind::kRandom, 5000);
  o.settings.switchProbability = 0.05;  // rare switches: the violation comes after many schedules
  const ExploreResult one = explore(inputs, o);
  ASSERT_TRUE(one.counterexample);
  ASSERT_GT(one.schedules, 2u);
  for (int attempt = 0; attempt < 3; ++attempt) {
    o.settings.jobs = 2;
    const ExploreResult two = explore(inputs, o);
    ASSERT_TRUE(two.counterexample);
    EXPECT_EQ(two.schedules, one.schedules);
    EXPECT_EQ(two.exercise, one.exercise);
  }
}

TEST_P(Explore, ShardsPartitionTheSchedules) {
  auto inputs = prepared(scenario("atomic"), [](Scenario& s) { s.threadCount = 3; });
  for (StrategyKind strategy : {StrategyKind::kExhaustive, StrategyKind::kRandom}) {
    ExploreOptions o = optionsFor(strategy, strategy == StrategyKind::kRandom ? 100 : 1000000);
    o.racesNameBranches = false;  // as every sharded run does
    const uint64_t whole = explore(inputs, o).schedules;
    for (uint32_t shards : {2u, 3u}) {
      uint64_t sum = 0;
      for (uint32_t i = 0; i < shards; ++i) {
        o.shardIndex = i;
        o.shardCount = shards;
        const ExploreResult part = explore(inputs, o);
        EXPECT_FALSE(part.counterexample);
        EXPECT_GT(part.schedules, 0u);
        sum += part.schedules;
      }
      EXPECT_EQ(sum, whole) << strategyName(strategy) << " over " << shards << " shards";
      o.shardIndex = 0;
      o.shardCount = 1;
    }
  }
}

TEST_P(Explore, ReplayReproducesTheCounterexampleExactly) {
  auto inputs = prepared(scenario("race"));
  ExploreOptions o = optionsFor(StrategyKind::kRandom, 500);
  const ExploreResult r = explore(inputs, o);
  ASSERT_TRUE(r.counterexample);
  for (int i = 0; i < 3; ++i) {
    bool diverged = true;
    auto again = replaySchedule(inputs, r.counterexample->decisions, &diverged);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(diverged);
    ASSERT_TRUE(again->violation);
    EXPECT_EQ(again->violation->message, r.counterexample->violation->message);
    EXPECT_EQ(again->decisions, r.counterexample->decisions);
    EXPECT_EQ(again->points, r.counterexample->points);
    EXPECT_EQ(again->instructions, r.counterexample->instructions);
    EXPECT_EQ(again->invariantValue, r.counterexample->invariantValue);
  }
}

// The patcher is an actor: with one thread and one store, exhaustive bound 1 lands the
// store before the thread, after it, or before any one of its watched instructions; the
// thread sees old code before the store and new code after.
TEST_P(Explore, PatcherStoresLandBetweenAnyTwoInstructions) {
  const std::string ret = GetParam() == "x64" ? "c3" : "c0035fd6";
  auto inputs = prepared(scenario("race"), [&](Scenario& s) {
    s.threadCount = 1;
    s.invariant.reset();
    s.explore.watch.clear();
    s.hostWrites = {{"racy_increment", parseHexBytes(ret, {}).value()}};
    s.explore.window = 0;
  });
  ASSERT_TRUE(inputs);
  auto session = Session::create(inputs, false);
  ASSERT_TRUE(session.ok());
  const uint64_t counterAt = inputs->base->imageBase + inputs->base->findFunction("race_counter")->begin;
  DepthFirstSearch search({}, 1, Reduction::kNone);
  std::set<uint64_t> counts;
  uint64_t schedules = 0;
  do {
    RunRecord run = (*session)->run(search);
    ASSERT_FALSE(run.error);
    ASSERT_FALSE(run.violation) << run.violation->message;
    ++schedules;
    auto value = (*session)->machine().call(counterAt, {});
    ASSERT_TRUE(value.ok() && value->completed());
    counts.insert(value->value);
  } while (search.backtrack());
  // Each of the 3 calls' first instruction is a point the store can precede.
  EXPECT_EQ(counts, (std::set<uint64_t>{0, 1, 2, 3}));
  EXPECT_EQ(schedules, 2u + 3u);
}

TEST_P(Explore, TebAndCreateThreadWork) {
  auto tls = prepared(scenario("threads"));
  auto session = Session::create(tls, false);
  ASSERT_TRUE(session.ok());
  ReplaySource defaults({});
  RunRecord run = (*session)->run(defaults);
  ASSERT_FALSE(run.violation) << run.violation->message;
  ASSERT_EQ(run.exitCodes.size(), 4u);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(run.exitCodes[i], 0x100 + 4 * i) << "TEB thread id";
  EXPECT_EQ(run.invariantValue, 1u);

  // spawner(i) starts 3 children with parameters 100i+1..100i+3, each exiting with 10x
  // its parameter, and returns the sum of their exit codes.
  auto spawn = prepared(scenario("spawn"));
  auto spawner = Session::create(spawn, false);
  ASSERT_TRUE(spawner.ok());
  for (uint64_t seed = 0; seed < 20; ++seed) {
    RandomStrategy random(seed, 0, 0.2);
    RunRecord r = (*spawner)->run(random);
    ASSERT_FALSE(r.violation) << r.violation->message;
    ASSERT_EQ(r.exitCodes.size(), 2u + 6u);
    EXPECT_EQ(r.exitCodes[0], 60u);
    EXPECT_EQ(r.exitCodes[1], 3060u);
  }
}

TEST_P(Explore, FaultsAndRunawayThreadsAreViolationsNotCrashes) {
  auto faulty = prepared(scenario("race"), [&](Scenario& s) {
    s.base = corpusImage("faults." + GetParam() + ".dll");
    s.threadEntry = "read_unmapped";
    s.invariant.reset();
    s.explore.watch.clear();
    s.explore.points = PointsMode::kAll;
  });
  ASSERT_TRUE(faulty);
  const ExploreResult fault = explore(faulty, optionsFor(StrategyKind::kRandom, 3));
  ASSERT_TRUE(fault.counterexample);
  EXPECT_EQ(propertyId(fault.counterexample->violation->property), "fault");
  EXPECT_NE(fault.counterexample->violation->message.find("unmapped-read of 0x"), std::string::npos);

  auto spinning = prepared(scenario("race"), [&](Scenario& s) {
    s.base = corpusImage("faults." + GetParam() + ".dll");
    s.threadEntry = "spin_forever";
    s.threadBudget = 20000;
    s.invariant.reset();
    s.explore.watch.clear();
  });
  const ExploreResult runaway = explore(spinning, optionsFor(StrategyKind::kRandom, 3));
  ASSERT_TRUE(runaway.counterexample);
  EXPECT_EQ(propertyId(runaway.counterexample->violation->property), "runaway");
}

// A worker runs many schedules on one engine: what ran before must not change a result
// (registers of a finished schedule's threads must not leak into the next one's).
TEST_P(Explore, AScheduleDoesNotDependOnWhatTheWorkerRanBefore) {
  auto inputs = prepared(scenario("atomic"));
  auto used = Session::create(inputs, false);
  auto fresh = Session::create(inputs, false);
  ASSERT_TRUE(used.ok() && fresh.ok());
  for (uint64_t i = 0; i < 5; ++i) {
    RandomStrategy before(9, i, 0.5);
    (*used)->run(before);
  }
  RandomStrategy a(1, 7, 0.5), b(1, 7, 0.5);
  const RunRecord afterOthers = (*used)->run(a), alone = (*fresh)->run(b);
  EXPECT_EQ(afterOthers.decisions, alone.decisions);
  EXPECT_EQ(afterOthers.points, alone.points);
  EXPECT_EQ(afterOthers.exitCodes, alone.exitCodes);
  EXPECT_EQ(afterOthers.invariantValue, alone.invariantValue);
}

// Overlapping watched ranges (a watched function and a patch site inside it) must not
// make one instruction two scheduling points.
TEST_P(Explore, OverlappingWatchRangesGiveOnePointPerInstruction) {
  auto once = prepared(scenario("race"));
  auto twice = prepared(scenario("race"), [](Scenario& s) { s.explore.watch = {"racy_increment", "racy_increment"}; });
  ReplaySource a({}), b({});
  EXPECT_EQ((*Session::create(once, false))->run(a).points, (*Session::create(twice, false))->run(b).points);
}

INSTANTIATE_TEST_SUITE_P(BothArchitectures, Explore, ::testing::Values("x64", "arm64"));

TEST(Explore, DeadlockIsAViolation) {
  auto inputs = prepared("deadlock.x64.toml");
  const ExploreResult r = explore(inputs, optionsFor(StrategyKind::kExhaustive));
  ASSERT_TRUE(r.counterexample);
  EXPECT_EQ(propertyId(r.counterexample->violation->property), "deadlock");
}

TEST(Explore, MaxTimeStopsCleanlyWithAPartialResult) {
  auto inputs = prepared("atomic64.x64.toml");
  ExploreOptions o = optionsFor(StrategyKind::kRandom, 1000000);
  o.settings.maxTime = 0.3;
  const ExploreResult r = explore(inputs, o);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.stoppedBy, "max-time");
  EXPECT_FALSE(r.exhausted);
  EXPECT_GT(r.schedules, 0u);
  EXPECT_LT(r.schedules, 1000000u);
}

}  // namespace
}  // namespace hph::test

namespace hph::test {
namespace {

// Every schedule violates here: the earliest must be reported whatever the job count.
TEST(Explore, EarliestCounterexampleWinsWhateverTheJobs) {
  auto inputs = prepared("race.x64.toml", [](Scenario& s) {
    s.base = corpusImage("faults.x64.dll");
    s.threadEntry = "read_unmapped";
    s.invariant.reset();
    s.explore.watch.clear();
  });
  for (StrategyKind strategy : {StrategyKind::kRandom, StrategyKind::kPct}) {
    ExploreOptions o = optionsFor(strategy, 50);
    const ExploreResult one = explore(inputs, o);
    o.settings.jobs = 2;
    const ExploreResult two = explore(inputs, o);
    ASSERT_TRUE(one.counterexample && two.counterexample);
    EXPECT_EQ(one.schedules, 1u);
    EXPECT_EQ(two.schedules, 1u);
    EXPECT_EQ(one.counterexample->violation->message, two.counterexample->violation->message);
  }
}

}  // namespace
}  // namespace hph::test
