// Exhaustive exploration by re-execution (stateless model checking, as in CHESS,
// Musuvathi & Qadeer PLDI 2007): every run follows the current path's decisions up to a
// branching point, takes one untried alternative there, and continues with the default
// rule; a preemption bound limits how many times a still-runnable actor is switched out.
//
// Sleep sets (Godefroid 1996) prune orders that only swap independent transitions: an
// alternative explored earlier at a node stays asleep in later siblings' subtrees until
// a transition that conflicts with it runs (conflicts: Footprint::conflictsWith).
//
// Sleep sets under a preemption bound miss schedules: the equivalent schedule they count
// on may need a preemption more than the bound allows (tests/ReductionTest.cpp measures
// it). Dynamic partial-order reduction (Flanagan & Godefroid 2005) instead, without sleep
// sets: a node's alternatives are not all its enabled actors but those a race found in
// some run asks for (HappensBefore): when transition i races with a later transition j of
// actor q, q is tried at i — or, if q could not run at i, at the latest earlier
// transition of i's actor that conflicts with j while q could run, else every enabled
// actor at i. Trying q at i may cost a preemption the bound does not allow, so q is also
// tried where i's actor began the run of transitions i belongs to (Coons, Musuvathi &
// McKinley, "Bounded partial-order reduction", OOPSLA 2013). Fetch-version nodes try every
// version.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "emu/core/Schedule.h"
#include "harness/explore/HappensBefore.h"
#include "harness/scenario/Scenario.h"

namespace hph {

struct SearchNode {
  std::vector<ActorId> enabled;
  ActorId current = kNoActor;
  bool currentEnabled = false;
  uint32_t preemptionsBefore = 0;
  ActorId chosen = kNoActor;
  PointKind kind = PointKind::kStart;
  std::vector<ActorId> backtrack;                    // dpor: the alternatives races asked for (and the first choice)
  std::vector<std::pair<ActorId, Footprint>> sleep;  // asleep here, with their transition
  std::vector<std::pair<ActorId, Footprint>> done;   // explored from here, with theirs

  uint32_t cost(ActorId actor) const { return currentEnabled && actor != current ? 1 : 0; }
  bool asleep(ActorId actor) const;
  bool explored(ActorId actor) const;
};

class DepthFirstSearch final : public DecisionSource {
 public:
  // `prefix` fixes the first `prefix.size()` decisions (the last one is the branch this
  // search owns); the search backtracks no higher than that.
  // `codeGranule`: see HappensBefore.
  DepthFirstSearch(std::vector<SearchNode> prefix, uint32_t preemptionBound, Reduction reduction,
                   uint32_t codeGranule = 1);

  ActorId choose(const SchedulingPoint& point) override;
  bool wantsFootprints() const override { return sleepSets_ || dpor_; }
  void transitionDone(Footprint& footprint) override;
  // The path up to the node backtracked to is replayed as it is.
  std::span<const ActorId> plannedChoices() override;
  // Along the fixed prefix, now and then (later branches off the same first run share
  // it); on the replayed path, at every node a later run will backtrack to.
  uint64_t checkpointSpacing(uint64_t index) const override;

  // Moves to the next run of the subtree; false when it is exhausted.
  bool backtrack();
  // dpor: records the backtracking points the races of the run just ended ask for
  // (backtrack() does this itself; a search run only once calls it).
  void analyseRun();
  // dpor: alternatives races asked for at nodes of the fixed prefix, which this search
  // does not own: (node, actor), each once.
  const std::vector<std::pair<size_t, ActorId>>& requests() const { return requests_; }
  const std::vector<SearchNode>& path() const { return path_; }
  // How much of the subtree is searched, estimated from the path alone: each node's
  // alternatives are taken to root subtrees of equal size (the weighted-backtrack
  // estimator of Kilby et al. 2006, a cousin of Knuth's 1975 random-probe estimate).
  double searchedShare() const;
  // A replayed prefix saw other choices than recorded: the harness is not deterministic.
  bool diverged() const { return diverged_; }

 private:
  ActorId actorAt(size_t node) const;
  const Footprint* footprintAt(size_t node) const;
  void tryAt(size_t node, ActorId actor);
  // An alternative at this node that backtrack() would still take (other than `chosen`).
  bool hasUntried(const SearchNode& node) const;
  // The latest node before i where i's actor ran a transition conflicting with `later`
  // while `actor` could have run instead, when `actor` could not run at i; else SIZE_MAX.
  size_t coEnabledBefore(size_t i, ActorId actor, const Footprint& later) const;

  std::vector<SearchNode> path_;
  size_t fixed_;
  size_t replay_;
  uint32_t bound_;
  bool sleepSets_;  // sleep sets and dpor both reason about footprints
  bool dpor_;
  HappensBefore happensBefore_;     // of the nodes of path_ analysed so far
  std::vector<size_t> blockStart_;  // per analysed node: where its actor's run of transitions began
  std::vector<size_t> races_;       // scratch
  std::vector<std::pair<size_t, ActorId>> requests_;
  size_t lastNode_ = SIZE_MAX;
  std::vector<std::pair<ActorId, Footprint>> pendingSleep_;
  // Footprints of nodes backtracked over, emptied: transitionDone trades one for the
  // scheduler's, so a run's transitions reuse memory instead of allocating their own.
  std::vector<Footprint> spare_;
  // Likewise nodes, emptied: a run appends thousands, each with four vectors to allocate.
  std::vector<SearchNode> spareNodes_;
  bool diverged_ = false;
  std::vector<ActorId> planned_;  // plannedChoices()
};

}  // namespace hph
