// Explores the schedules of one scenario with a strategy, on several jobs, within a
// shard, and merges what the jobs found deterministically: the same inputs and seed give
// the same result whatever the number of jobs.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "emu/core/Schedule.h"
#include "harness/explore/Session.h"

namespace hph {

// How far an exploration is, for a progress line.
struct ExploreProgress {
  uint64_t schedules = 0;
  double seconds = 0;
  // exhaustive: the preemption level being searched (levels below it are complete), and
  // the estimated share of it searched (DepthFirstSearch::searchedShare over its branches),
  // with the seconds spent on it; share < 0 when nothing can be estimated yet.
  std::optional<uint32_t> level;
  uint32_t bound = 0;
  double levelShare = -1;
  double levelSeconds = 0;
};

struct ExploreOptions {
  // How to explore: the scenario's [explore] with the command line's overrides. `jobs`
  // is the number of workers planned (JobLimit.h; 0 runs one); watch, points and window
  // took effect when the scenario was prepared.
  ExploreSettings settings;
  // What only this run has: the shard it covers, how it is stopped, who watches it.
  uint32_t shardIndex = 0;
  uint32_t shardCount = 1;
  // dpor: the first run's races name the branches searched off it, and searches add the
  // ones their races ask for. Shards cannot share what their searches ask for, so a
  // sharded run (and one with this off) branches at every alternative of the first run,
  // shard I taking every N-th: more schedules, the same verdicts. A sharded run tallies
  // each branch (which the races name, which its search asks for), so that `hph merge`
  // counts exactly the branches the unsharded run searches (MergeCommand.h).
  bool racesNameBranches = true;
  // Set by a signal (SIGINT/SIGTERM): stop before the next run, like --max-time.
  const std::atomic<bool>* interrupted = nullptr;
  // Called now and then from an exploring thread.
  std::function<void(const ExploreProgress&)> progress;
};

// exhaustive, sharded: what one branch off the first run, searched to the end,
// contributed (the search of a branch is a function of the branch alone, whichever shard
// or job runs it), with what the unsharded dpor search would ask of it.
struct BranchTally {
  static constexpr int32_t kFirstRun = -1;  // `level` of the first run itself (shard 0's)
  int32_t level = 0;
  uint64_t branch = 0;             // Branch::key()
  bool named = true;               // the first run's races name it (dpor); every branch otherwise
  std::vector<uint64_t> requests;  // branches of this level its search's races ask for
  uint64_t schedules = 0;
  uint64_t pruned = 0;
  Exercise exercise;
  // Its violating run the search prefers, and where: (preemptions, decisions, branch, run).
  std::optional<RunRecord> counterexample;
  std::array<uint64_t, 4> order{};
};

struct ExploreResult {
  uint64_t schedules = 0;                   // complete schedules explored in this shard
  uint64_t pruned = 0;                      // runs cut short by the reduction (not schedules)
  Exercise exercise;                        // vacuity, summed over the schedules counted
  bool exhausted = false;                   // exhaustive: the whole bounded space was covered
  std::string stoppedBy;                    // "", "counterexample", "max-time", "schedule cap", "signal"
  uint32_t boundReached = 0;                // exhaustive: highest preemption level completed
  uint32_t levelsCompleted = 0;             // exhaustive: preemption levels 0..n-1 searched in full
  double partialLevelShare = -1;            // cut short: the estimated share of the next level searched
  std::optional<RunRecord> counterexample;  // minimised, re-run with its trace
  // exhaustive, sharded: every branch searched to the end (and the first run, in shard 0).
  std::vector<BranchTally> branchTallies;
  // random and pct, sharded: each schedule's vacuity (k: this shard's k-th, the unsharded
  // run's I + kN), up to the shard's first violation, so that `hph merge` sums them up to
  // the earliest one.
  std::vector<std::pair<uint64_t, Exercise>> scheduleVacuity;
  std::optional<Error> error;
  double seconds = 0;
};

ExploreResult explore(std::shared_ptr<const ScenarioInputs> inputs, const ExploreOptions& options);

// Re-runs one schedule (with its trace).
Result<RunRecord> replaySchedule(std::shared_ptr<const ScenarioInputs> inputs,
                                 const std::vector<std::pair<uint64_t, ActorId>>& decisions, bool* diverged = nullptr);

// The CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota.
uint32_t availableCpus();

}  // namespace hph
