// Checkpoints are compared executions: the same depth-first search runs on two sessions,
// one re-executing every run from the start and one resuming runs from checkpoints, in
// lockstep. Every run must give the same record and leave the two searches with the same
// path (choices, enabled actors, footprints, backtrack sets), so the resumed runs explore
// exactly what the full runs do. A source that resumes on a prefix it then leaves shows
// the comparison catches a checkpoint restored on the wrong path.
#include <gtest/gtest.h>

#include "harness/explore/DepthFirstSearch.h"
#include "harness/explore/Session.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

bool sameFootprint(const Footprint& a, const Footprint& b) {
  auto sameRanges = [](const std::vector<AddressRange>& x, const std::vector<AddressRange>& y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const AddressRange& p, const AddressRange& q) {
      return p.begin == q.begin && p.end == q.end;
    });
  };
  return a.actor == b.actor && sameRanges(a.fetched, b.fetched) && a.reads == b.reads && a.writes == b.writes &&
         sameRanges(a.stored, b.stored) && a.global == b.global && a.opaque == b.opaque &&
         a.ordersPatcher == b.ordersPatcher;
}

// "" when the two paths agree, else where they first differ.
std::string pathDifference(const std::vector<SearchNode>& a, const std::vector<SearchNode>& b) {
  if (a.size() != b.size()) return "lengths " + std::to_string(a.size()) + " and " + std::to_string(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const SearchNode &x = a[i], &y = b[i];
    const bool same = x.enabled == y.enabled && x.current == y.current && x.currentEnabled == y.currentEnabled &&
                      x.preemptionsBefore == y.preemptionsBefore && x.chosen == y.chosen && x.kind == y.kind &&
                      x.backtrack == y.backtrack && x.done.size() == y.done.size() &&
                      std::equal(x.done.begin(), x.done.end(), y.done.begin(), [](const auto& p, const auto& q) {
                        return p.first == q.first && sameFootprint(p.second, q.second);
                      });
    if (!same) return "node " + std::to_string(i);
  }
  return "";
}

// "" when the two runs gave the same record.
std::string recordDifference(const RunRecord& a, const RunRecord& b) {
  if (a.decisions != b.decisions) return "decisions";
  if (a.points != b.points || a.preemptions != b.preemptions || a.abandoned != b.abandoned) return "points";
  if (a.violation.has_value() != b.violation.has_value() ||
      (a.violation && (a.violation->property != b.violation->property || a.violation->pc != b.violation->pc ||
                       a.violation->message != b.violation->message)))
    return "violation";
  if (a.exitCodes != b.exitCodes || a.invariantValue != b.invariantValue) return "results";
  if (a.exercise != b.exercise) return "exercise";
  if (a.error.has_value() != b.error.has_value()) return "error";
  return "";
}

// A search that, from run `from` on, chooses otherwise at replayed point `point` than it
// says it will: a run resumed on its planned choices starts from a state its choices do
// not lead to.
class Misplanned final : public DecisionSource {
 public:
  Misplanned(DepthFirstSearch& search, uint64_t point) : search_(search), point_(point) {}
  ActorId choose(const SchedulingPoint& p) override {
    const ActorId planned = search_.choose(p);
    if (!active_ || p.index != point_ || planned == kAbandon) return planned;
    for (ActorId other : p.enabled)
      if (other != planned) return other;
    return planned;
  }
  bool wantsFootprints() const override { return search_.wantsFootprints(); }
  void transitionDone(Footprint& f) override { search_.transitionDone(f); }
  std::span<const ActorId> plannedChoices() override { return search_.plannedChoices(); }
  uint64_t checkpointSpacing(uint64_t index) const override { return search_.checkpointSpacing(index); }
  bool active_ = false;

 private:
  DepthFirstSearch& search_;
  uint64_t point_;
};

struct Lockstep {
  uint64_t runs = 0;
  uint64_t resumed = 0;
  uint64_t pointsSkipped = 0;
  std::string firstDifference;  // "" when every run agreed
};

// Runs the search on both sessions for up to `maxRuns` runs. With `misplanAt`, both
// sources turn Misplanned after the first run that resumed: the full runs follow the
// changed choice, a resumed run the checkpoint taken before the change.
Lockstep lockstep(const std::shared_ptr<const ScenarioInputs>& inputs, uint32_t bound, Reduction reduction,
                  uint64_t maxRuns, std::optional<uint64_t> misplanAt = std::nullopt) {
  Lockstep out;
  auto full = Session::create(inputs, reduction != Reduction::kNone);
  auto resumed = Session::create(inputs, reduction != Reduction::kNone);
  EXPECT_TRUE(full.ok() && resumed.ok());
  if (!full || !resumed) return out;
  (*full)->setCheckpoints(false);
  DepthFirstSearch a({}, bound, reduction), b({}, bound, reduction);
  Misplanned aSource(a, misplanAt.value_or(0)), bSource(b, misplanAt.value_or(0));
  for (; out.runs < maxRuns; ++out.runs) {
    const uint64_t resumedBefore = (*resumed)->checkpointStats().resumed;
    const RunRecord x = (*full)->run(aSource);
    const RunRecord y = (*resumed)->run(bSource);
    if (misplanAt && (*resumed)->checkpointStats().resumed > resumedBefore) aSource.active_ = bSource.active_ = true;
    std::string why = recordDifference(x, y);
    if (why.empty() && !misplanAt) why = pathDifference(a.path(), b.path());
    if (!why.empty()) {
      out.firstDifference = "run " + std::to_string(out.runs) + ": " + why;
      break;
    }
    const bool more = a.backtrack();
    if (more != b.backtrack()) {
      out.firstDifference = "run " + std::to_string(out.runs) + ": one search ended";
      break;
    }
    if (!more) break;
  }
  out.resumed = (*resumed)->checkpointStats().resumed;
  out.pointsSkipped = (*resumed)->checkpointStats().pointsSkipped;
  return out;
}

struct LockstepCase {
  const char* scenario;
  const char* entry;  // nullptr: the scenario's own
  Reduction reduction;
  uint64_t runs;
};

class CheckpointLockstep : public ::testing::TestWithParam<LockstepCase> {};

TEST_P(CheckpointLockstep, ResumedRunsAreTheRunsFromTheStart) {
  const LockstepCase c = GetParam();
  auto inputs = preparedScenario(corpusScenario(c.scenario), [&](Scenario& s) {
    if (c.entry) s.threadEntry = c.entry;
  });
  ASSERT_TRUE(inputs);
  const Lockstep result = lockstep(inputs, 2, c.reduction, c.runs);
  EXPECT_EQ(result.firstDifference, "");
  // Runs long enough to keep checkpoints: the comparison covers resumed runs.
  EXPECT_GT(result.resumed, result.runs / 4) << result.runs << " runs";
  EXPECT_GT(result.pointsSkipped, 0u);
  std::printf("%s: %llu runs, %llu resumed, %llu points not re-executed\n", c.scenario,
              static_cast<unsigned long long>(result.runs), static_cast<unsigned long long>(result.resumed),
              static_cast<unsigned long long>(result.pointsSkipped));
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, CheckpointLockstep,
    ::testing::Values(LockstepCase{"patch-padding-short-jmp.x64.toml", "worker_5", Reduction::kDpor, 1500},
                      LockstepCase{"patch-padding-short-jmp.x64.toml", "worker_5", Reduction::kSleepSets, 800},
                      LockstepCase{"patch-padding-short-jmp.x64.toml", "worker_5", Reduction::kNone, 800},
                      LockstepCase{"patch-stop-the-world.x64.toml", "worker_5", Reduction::kDpor, 1500},
                      LockstepCase{"patch-int3-3step.x64.toml", "keyed_worker", Reduction::kDpor, 1500},
                      LockstepCase{"patch-series.x64.toml", "worker_5", Reduction::kDpor, 1500},
                      LockstepCase{"rmw-add.x64.toml", nullptr, Reduction::kDpor, 1500},
                      LockstepCase{"patch-b-direct.arm64.toml", "worker_5", Reduction::kDpor, 1500},
                      LockstepCase{"patch-stop-the-world.arm64.toml", "worker_5", Reduction::kDpor, 1500},
                      LockstepCase{"patch-literal-swap.arm64.toml", nullptr, Reduction::kDpor, 1500},
                      LockstepCase{"patch-series.arm64.toml", nullptr, Reduction::kDpor, 1500},
                      LockstepCase{"canary-stale-veneer.arm64.toml", nullptr, Reduction::kDpor, 1500}));

TEST(CheckpointLockstep, ACheckpointResumedOnAnotherPathIsCaught) {
  auto inputs = preparedScenario(corpusScenario("patch-padding-short-jmp.x64.toml"),
                                 [](Scenario& s) { s.threadEntry = "worker_5"; });
  ASSERT_TRUE(inputs);
  // Point 40 lies inside the checkpointed prefix of most runs.
  const Lockstep result = lockstep(inputs, 2, Reduction::kDpor, 1500, 40);
  EXPECT_NE(result.firstDifference, "");
}

}  // namespace
}  // namespace hph::test
