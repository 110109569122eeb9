// A Machine replaces its Unicorn engine between runs once enough code pages were
// forgotten (Unicorn never reuses the translation space of forgotten blocks, so a long
// exploration grew ~9 KB a schedule without it): the renewal happens, and a schedule runs
// the same before and after it.
#include <gtest/gtest.h>

#include "harness/explore/RandomStrategy.h"
#include "harness/explore/ReplaySource.h"
#include "harness/explore/Session.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

class EngineRenewal : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineRenewal, HappensAndChangesNoRun) {
  const std::string file = GetParam() == "x64" ? "patch-padding-short-jmp.x64.toml" : "patch-b-direct.arm64.toml";
  auto inputs = preparedScenario(corpusScenario(file));
  ASSERT_TRUE(inputs);
  auto session = Session::create(inputs, false);
  ASSERT_TRUE(session.ok());
  Machine& machine = (*session)->machine();

  // A schedule with a preemption in the patch window, recorded with its trace.
  RandomStrategy probe(7, 3, 0.3);
  const RunRecord before = (*session)->run(probe, true);
  ASSERT_FALSE(before.error);
  ASSERT_GT(before.preemptions, 0u);

  // Every schedule patches the entry and puts it back: pages are forgotten each time.
  uint64_t runs = 0;
  for (; machine.engineRenewals() == 0 && runs < 4 * Machine::kForgottenPagesPerEngine; ++runs) {
    RandomStrategy random(1, runs, 0.25);
    const RunRecord run = (*session)->run(random);
    ASSERT_FALSE(run.error) << run.error->message;
    ASSERT_FALSE(run.violation) << run.violation->message;
  }
  ASSERT_EQ(machine.engineRenewals(), 1u) << "no renewal in " << runs << " runs";

  ReplaySource again(before.decisions);
  const RunRecord after = (*session)->run(again, true);
  ASSERT_FALSE(after.error);
  EXPECT_EQ(after.decisions, before.decisions);
  EXPECT_EQ(after.points, before.points);
  EXPECT_EQ(after.instructions, before.instructions);
  EXPECT_EQ(after.exitCodes, before.exitCodes);
  EXPECT_EQ(after.invariantValue, before.invariantValue);
  EXPECT_EQ(after.exercise, before.exercise);
  EXPECT_EQ(after.trace.size(), before.trace.size());
}

INSTANTIATE_TEST_SUITE_P(BothArchitectures, EngineRenewal, ::testing::Values("x64", "arm64"));

}  // namespace
}  // namespace hph::test
