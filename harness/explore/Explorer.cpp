#include "harness/explore/Explorer.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <span>
#include <thread>

#include "harness/explore/BranchQueue.h"
#include "harness/explore/DeadlineSource.h"
#include "harness/explore/DepthFirstSearch.h"
#include "harness/explore/InOrderTally.h"
#include "harness/explore/Minimizer.h"
#include "harness/explore/PctStrategy.h"
#include "harness/explore/RandomStrategy.h"
#include "harness/explore/ReplaySource.h"

namespace hph {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kProgressInterval = std::chrono::milliseconds(250);
// How many schedules the search for a counterexample with fewer preemptions may run.
constexpr uint64_t kFewerPreemptionsCap = 2000;

// What the workers of one exploration share.
class Coordination {
 public:
  Coordination(const ExploreOptions& options) : options_(options), start_(Clock::now()) {}

  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  bool stopped() const { return stop_.load(std::memory_order_relaxed); }
  // Checked before each run: past --max-time the exploration ends with a partial result.
  bool outOfTime() {
    if (options_.interrupted && options_.interrupted->load(std::memory_order_relaxed)) stopBecause("signal");
    if (options_.settings.maxTime > 0 && elapsed() >= options_.settings.maxTime) stopBecause("max-time");
    return stopped();
  }
  void stopBecause(std::string why) {
    std::lock_guard lock(mutex_);
    if (stoppedBy_.empty()) stoppedBy_ = std::move(why);
    stop_ = true;
  }
  void fail(Error error) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::move(error);
    stop_ = true;
  }
  // `vacuity`: add its vacuity counters too (sampled runs tally theirs in order instead).
  void countSchedule(const RunRecord& run, bool vacuity = true) {
    if (vacuity) addVacuity(run.exercise);
    ++schedules_;
    if (!options_.progress) return;
    std::lock_guard lock(mutex_);
    if (Clock::now() - lastProgress_ < kProgressInterval) return;
    lastProgress_ = Clock::now();
    options_.progress(progress());
  }
  // exhaustive: a preemption level begins; `share` estimates how much of it is searched.
  void startLevel(uint32_t level, std::function<double()> share) {
    std::lock_guard lock(mutex_);
    level_ = level;
    levelShare_ = std::move(share);
    levelStart_ = Clock::now();
  }
  double levelShare() {
    std::lock_guard lock(mutex_);
    return levelShare_ ? levelShare_() : -1;
  }
  void countPruned() { ++pruned_; }
  void addVacuity(const Exercise& exercise) {
    std::lock_guard lock(exerciseMutex_);
    exercise_ += exercise;
  }

  uint64_t schedules() const { return schedules_; }
  uint64_t pruned() const { return pruned_; }
  Exercise exercise() const {
    std::lock_guard lock(exerciseMutex_);
    return exercise_;
  }
  const std::optional<Error>& error() const { return error_; }
  const std::string& stoppedBy() const { return stoppedBy_; }

 private:
  ExploreProgress progress() const {
    ExploreProgress p{.schedules = schedules_, .seconds = elapsed(), .bound = options_.settings.preemptionBound};
    if (level_) {
      p.level = level_;
      p.levelShare = levelShare_ ? levelShare_() : -1;
      p.levelSeconds = std::chrono::duration<double>(Clock::now() - levelStart_).count();
    }
    return p;
  }

  const ExploreOptions& options_;
  Clock::time_point start_;
  std::optional<uint32_t> level_;
  std::function<double()> levelShare_;
  Clock::time_point levelStart_ = Clock::now();
  Clock::time_point lastProgress_ = Clock::now();
  std::mutex mutex_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> schedules_{0};
  std::atomic<uint64_t> pruned_{0};
  mutable std::mutex exerciseMutex_;  // not mutex_: progress() is called under that one
  Exercise exercise_;
  std::optional<Error> error_;
  std::string stoppedBy_;
};

// Runs work(session) on every session, each on its own thread (inline for one).
using Sessions = std::span<const std::unique_ptr<Session>>;

// work(session, job index).
template <class Work> void onEveryJob(Sessions sessions, Work work) {
  if (sessions.size() == 1) {
    work(*sessions[0], size_t{0});
    return;
  }
  std::vector<std::thread> threads;
  for (size_t job = 0; job < sessions.size(); ++job)
    threads.emplace_back([&work, s = sessions[job].get(), job] { work(*s, job); });
  for (std::thread& t : threads) t.join();
}

// A violating run and where it was found, ordered so the choice is deterministic.
struct Candidate {
  RunRecord run;
  uint64_t item = 0;
  uint64_t ordinal = 0;
  auto key() const { return std::tuple(run.preemptions, run.decisions.size(), item, ordinal); }
};

void offer(std::mutex& mutex, std::optional<Candidate>& best, Candidate candidate) {
  std::lock_guard lock(mutex);
  if (!best || candidate.key() < best->key()) best = std::move(candidate);
}

void exploreExhaustive(Sessions sessions, const ExploreOptions& options, Coordination& coordination,
                       ExploreResult& result);

// random and pct: schedule i is a pure function of (seed, i); a shard owns i = I, I+N, ...
// Workers claim schedules in order and stop past the earliest violation, so the reported
// counterexample (the earliest) and the count before it do not depend on the job count.
void exploreSampled(Sessions sessions, const ExploreOptions& options, Coordination& coordination,
                    ExploreResult& result) {
  const uint64_t schedules = options.settings.scheduleLimit();
  const uint64_t owned = schedules > options.shardIndex
                             ? (schedules - options.shardIndex + options.shardCount - 1) / options.shardCount
                             : 0;
  std::vector<ActorId> actors;
  for (uint32_t t = 0; t < sessions[0]->initialThreads(); ++t) actors.push_back(static_cast<ActorId>(t));
  if (sessions[0]->hasPatcher()) actors.push_back(kPatcher);
  uint64_t steps = 1;
  if (options.settings.strategy == StrategyKind::kPct) {
    // PCT draws its change points from the length of a run: measure the default one.
    ReplaySource defaults({});
    DeadlineSource guard(defaults, [&] { return coordination.outOfTime(); });
    steps = std::max<uint64_t>(sessions[0]->run(guard).points, 1);
    if (guard.fired()) return;
  }

  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> firstViolation{UINT64_MAX};
  std::mutex mutex;
  std::optional<Candidate> best;
  std::optional<std::pair<uint64_t, Error>> firstError;  // (schedule, error), the earliest
  InOrderTally tally;
  std::map<uint64_t, Exercise> perSchedule;  // sharded: for hph merge
  onEveryJob(sessions, [&](Session& session, size_t) {
    for (;;) {
      if (coordination.outOfTime()) return;
      const uint64_t k = next++;
      if (k >= owned || k > firstViolation.load()) return;
      const uint64_t index = options.shardIndex + k * options.shardCount;
      std::unique_ptr<DecisionSource> source;
      if (options.settings.strategy == StrategyKind::kPct)
        source = std::make_unique<PctStrategy>(options.settings.seed, index, actors, steps, options.settings.depth);
      else
        source = std::make_unique<RandomStrategy>(options.settings.seed, index, options.settings.switchProbability);
      DeadlineSource guard(*source, [&] { return coordination.outOfTime(); });
      RunRecord run = session.run(guard);
      if (guard.fired()) return;
      if (run.error) {
        // Like violations, the earliest wins, so the job count cannot change the outcome.
        std::lock_guard lock(mutex);
        if (!firstError || k < firstError->first) firstError = {k, *run.error};
        uint64_t seen = firstViolation.load();
        while (k < seen && !firstViolation.compare_exchange_weak(seen, k)) {}
        continue;
      }
      coordination.countSchedule(run, false);
      const Exercise vacuity = run.exercise;
      if (run.violation) {
        uint64_t seen = firstViolation.load();
        while (k < seen && !firstViolation.compare_exchange_weak(seen, k)) {}
        // The earliest schedule wins (not the smallest): it does not depend on the jobs.
        std::lock_guard lock(mutex);
        if (!best || k < best->item) best = Candidate{std::move(run), k, 0};
      }
      tally.add(k, vacuity, firstViolation.load());
      if (options.shardCount > 1) {
        std::lock_guard lock(mutex);
        perSchedule[k] = vacuity;
      }
    }
  });
  for (const auto& [k, counts] : perSchedule)
    if (k <= firstViolation.load()) result.scheduleVacuity.push_back({k, counts});
  coordination.addVacuity(tally.total(firstViolation.load()));
  if (firstError && (!best || firstError->first < best->item)) return coordination.fail(firstError->second);
  if (best) {
    // Every schedule before the earliest violation ran; count exactly those.
    result.schedules = best->item + 1;
    result.counterexample = minimizeCounterexample(*sessions[0], std::move(best->run));
    coordination.stopBecause("counterexample");
    // Dropping decisions one at a time can get stuck; a small exhaustive search one
    // preemption lower settles whether fewer preemptions suffice.
    if (const uint32_t preemptions = result.counterexample->preemptions; preemptions > 0) {
      ExploreOptions fewer = options;
      fewer.settings.strategy = StrategyKind::kExhaustive;
      fewer.settings.reduction = Reduction::kNone;  // these sessions track no footprints
      fewer.settings.preemptionBound = preemptions - 1;
      fewer.settings.schedules = kFewerPreemptionsCap;
      fewer.shardIndex = 0;
      fewer.shardCount = 1;
      fewer.settings.maxTime = 0;
      fewer.progress = nullptr;
      Coordination search(fewer);
      ExploreResult smaller;
      // One job: with a cap, more jobs could stop at different schedules.
      exploreExhaustive(sessions.first(1), fewer, search, smaller);
      if (smaller.counterexample &&
          smaller.counterexample->violation->property == result.counterexample->violation->property)
        result.counterexample = std::move(smaller.counterexample);
    }
  } else {
    result.schedules = coordination.schedules();
  }
}

// exhaustive: iterative preemption bounding. Level k counts the schedules with exactly k
// preemptions; the first level with a violation ends the search, so the counterexample
// has the fewest preemptions. Work items are branches off the first (default) run; each
// is searched depth-first by one job. Without dpor (or when sharded) every alternative at
// every node of the first run is a branch, and shard I owns branches I, I+N, ...; with
// dpor the first run's races name the branches, and searches add those their races ask
// for (the set does not depend on the job count: each branch's search is a function of
// the branch alone).
void exploreExhaustive(Sessions sessions, const ExploreOptions& options, Coordination& coordination,
                       ExploreResult& result) {
  const Reduction reduction = options.settings.reduction;
  const bool racesNameBranches = reduction == Reduction::kDpor && options.racesNameBranches && options.shardCount == 1;
  // Sharded dpor: the races still say which branches the unsharded search takes.
  const bool tallyNamed = reduction == Reduction::kDpor && options.racesNameBranches && options.shardCount > 1;
  const bool tally = options.shardCount > 1;
  const uint64_t cap = options.settings.scheduleLimit();
  // Fixed-length instructions (Arm64): code compared by instruction, not by byte.
  const uint32_t codeGranule = std::max(1u, sessions[0]->machine().arch().facts().fixedInstructionBytes);
  DepthFirstSearch first({}, 0, reduction, codeGranule);
  DeadlineSource rootGuard(first, [&] { return coordination.outOfTime(); });
  RunRecord root = sessions[0]->run(rootGuard);
  if (rootGuard.fired()) return;
  if (root.error) return coordination.fail(*root.error);
  if (racesNameBranches || tallyNamed) first.analyseRun();
  const std::vector<SearchNode> path = first.path();
  const bool ownsRoot = options.shardIndex == 0;
  if (ownsRoot) coordination.countSchedule(root);
  if (ownsRoot && tally) {
    BranchTally first{.level = BranchTally::kFirstRun, .schedules = 1};
    first.exercise = root.exercise;
    if (root.violation) first.counterexample = root;
    result.branchTallies.push_back(std::move(first));
  }
  if (root.violation) {
    result.counterexample = std::move(root);
    result.schedules = ownsRoot ? 1 : 0;
    return coordination.stopBecause("counterexample");
  }

  std::mutex mutex;
  std::optional<Candidate> best;
  std::atomic<uint64_t> counted{ownsRoot ? 1u : 0u};
  for (uint32_t level = 0; level <= options.settings.preemptionBound; ++level) {
    auto withinLevel = [&](const Branch& b) {
      const SearchNode& node = path[b.node];
      return b.actor != node.chosen && node.preemptionsBefore + node.cost(b.actor) <= level;
    };
    BranchQueue branches;
    // Each job's estimate of how much of the branch it is searching is done.
    std::vector<std::atomic<double>> searching(sessions.size());
    coordination.startLevel(level, [&] {
      const auto [searched, known] = branches.searchedOfKnown();
      if (known == 0) return 1.0;
      double share = static_cast<double>(searched);
      for (const auto& job : searching) share += job.load(std::memory_order_relaxed);
      return std::min(share / static_cast<double>(known), 1.0);
    });
    size_t ordinalOfBranch = 0;
    for (size_t i = 0; i < path.size(); ++i) {
      const std::vector<ActorId>& alternatives = racesNameBranches ? path[i].backtrack : path[i].enabled;
      for (ActorId a : path[i].enabled) {
        if (std::find(alternatives.begin(), alternatives.end(), a) == alternatives.end()) continue;
        if (!withinLevel({i, a})) continue;
        if (racesNameBranches || ordinalOfBranch++ % options.shardCount == options.shardIndex) branches.add({i, a});
      }
    }
    onEveryJob(sessions, [&](Session& session, size_t job) {
      while (const std::optional<Branch> branch = branches.take()) {
        // An abandoned branch keeps its share: what a stopped level covered is estimated after.
        struct Finished {
          BranchQueue& queue;
          std::atomic<double>& share;
          bool complete = false;
          ~Finished() {
            if (complete) share = 0;
            queue.finished(complete);
          }
        } finished{branches, searching[job]};
        if (coordination.stopped()) return branches.stop();
        std::vector<SearchNode> prefix(path.begin(), path.begin() + static_cast<ptrdiff_t>(branch->node) + 1);
        prefix.back().chosen = branch->actor;  // `done` keeps the first run's choice and footprint
        DepthFirstSearch search(std::move(prefix), level, reduction, codeGranule);
        BranchTally branchTally{.level = static_cast<int32_t>(level), .branch = branch->key()};
        if (tallyNamed) {
          const std::vector<ActorId>& named = path[branch->node].backtrack;
          branchTally.named = std::find(named.begin(), named.end(), branch->actor) != named.end();
        }
        for (uint64_t ordinal = 0;; ++ordinal) {
          if (coordination.outOfTime()) return branches.stop();
          DeadlineSource guard(search, [&] { return coordination.outOfTime(); });
          RunRecord run = session.run(guard);
          if (guard.fired()) return branches.stop();
          if (run.error) {
            coordination.fail(*run.error);
            return branches.stop();
          }
          if (search.diverged()) {
            coordination.fail(internalError("a replayed schedule took another path: the "
                                            "emulation is not deterministic"));
            return branches.stop();
          }
          if (run.abandoned) {
            coordination.countPruned();
            ++branchTally.pruned;
          } else if (run.preemptions == level) {
            coordination.countSchedule(run);
            ++branchTally.schedules;
            branchTally.exercise += run.exercise;
            if (++counted > cap) {
              coordination.stopBecause("schedule cap");
              return branches.stop();
            }
          }
          if (run.violation) {
            Candidate candidate{std::move(run), branch->key(), ordinal};
            if (tally) {
              const auto [p, d, item, o] = candidate.key();
              const std::array<uint64_t, 4> order{p, d, item, o};
              if (!branchTally.counterexample || order < branchTally.order) {
                branchTally.counterexample = candidate.run;
                branchTally.order = order;
              }
            }
            offer(mutex, best, std::move(candidate));
          }
          if (!search.backtrack()) break;
          searching[job].store(search.searchedShare(), std::memory_order_relaxed);
        }
        finished.complete = true;
        if (tally) {
          if (tallyNamed)
            for (const auto& [node, actor] : search.requests())
              if (withinLevel({node, actor})) branchTally.requests.push_back(Branch{node, actor}.key());
          std::lock_guard lock(mutex);
          result.branchTallies.push_back(std::move(branchTally));
        }
        // Without racesNameBranches every alternative is a branch of some shard already.
        if (racesNameBranches)
          for (const auto& [node, actor] : search.requests())
            if (withinLevel({node, actor})) branches.add({node, actor});
      }
    });
    if (coordination.stopped()) {
      result.partialLevelShare = coordination.levelShare();
      coordination.startLevel(level, nullptr);
      break;
    }
    coordination.startLevel(level, nullptr);
    result.boundReached = level;
    result.levelsCompleted = level + 1;
    // Sharded, a violation in this shard's branches may lie outside those the unsharded
    // search takes (a branch no race names): the shards search every level, and the
    // merge finds the first level with a violation among those.
    if (best && !tally) break;
  }
  result.schedules = std::min<uint64_t>(counted, cap);
  // The tallies in an order that does not depend on the jobs.
  std::sort(result.branchTallies.begin(), result.branchTallies.end(), [](const BranchTally& a, const BranchTally& b) {
    return std::pair(a.level, a.branch) < std::pair(b.level, b.branch);
  });
  if (best) {
    result.counterexample = std::move(best->run);
    coordination.stopBecause("counterexample");
  }
  result.exhausted = !coordination.stopped() && !best;
}

}  // namespace

ExploreResult explore(std::shared_ptr<const ScenarioInputs> inputs, const ExploreOptions& options) {
  ExploreResult result;
  Coordination coordination(options);
  const bool footprints =
      options.settings.strategy == StrategyKind::kExhaustive && options.settings.reduction != Reduction::kNone;
  std::vector<std::unique_ptr<Session>> sessions;
  for (uint32_t j = 0; j < std::max<uint32_t>(options.settings.jobs, 1); ++j) {
    auto session = Session::create(inputs, footprints);
    if (!session) {
      result.error = session.error();
      return result;
    }
    (*session)->setCheckpoints(options.settings.checkpoints);
    (*session)->setCommutingAdds(options.settings.atomicAddsCommute);
    sessions.push_back(std::move(session).value());
  }
  if (options.settings.strategy == StrategyKind::kExhaustive)
    exploreExhaustive(sessions, options, coordination, result);
  else
    exploreSampled(sessions, options, coordination, result);

  result.error = coordination.error();
  result.stoppedBy = coordination.stoppedBy();
  result.pruned = coordination.pruned();
  result.exercise = coordination.exercise();
  if (result.counterexample && !result.error) {
    // Re-run the counterexample on its own to record its trace (and prove it replays).
    ReplaySource source(result.counterexample->decisions);
    RunRecord traced = sessions[0]->run(source, true);
    if (!traced.violation || traced.violation->property != result.counterexample->violation->property)
      result.error = internalError("the counterexample did not reproduce when replayed");
    else
      result.counterexample = std::move(traced);
  }
  result.seconds = coordination.elapsed();
  return result;
}

Result<RunRecord> replaySchedule(std::shared_ptr<const ScenarioInputs> inputs,
                                 const std::vector<std::pair<uint64_t, ActorId>>& decisions, bool* diverged) {
  auto session = Session::create(inputs, false);
  if (!session) return session.error();
  ReplaySource source(decisions);
  RunRecord run = (*session)->run(source, true);
  if (diverged) *diverged = source.diverged() || !source.reachedAll();
  if (run.error) return *run.error;
  return run;
}

uint32_t availableCpus() {
  cpu_set_t set;
  uint32_t cpus = 1;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = std::max(CPU_COUNT(&set), 1);
  // cgroup v2: "max 100000" or "<quota> <period>".
  std::ifstream cpuMax("/sys/fs/cgroup/cpu.max");
  std::string quota;
  uint64_t period = 0;
  if (cpuMax >> quota >> period && quota != "max" && period > 0) {
    const double limit = std::stod(quota) / static_cast<double>(period);
    cpus = std::min<uint32_t>(cpus, std::max<uint32_t>(1, static_cast<uint32_t>(std::ceil(limit))));
  }
  return cpus;
}

}  // namespace hph
