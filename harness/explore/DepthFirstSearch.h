// Exhaustive exploration by re-execution (stateless model checking, as in CHESS,
// Musuvathi & Qadeer PLDI 2007): every run follows the current path's decisions up to a
// branching point, takes one untried alternative there, and continues with the default
// rule; a preemption bound limits how many times a still-runnable actor is switched out.
//
// Sleep sets (Godefroid 1996) prune orders that only swap independent transitions: an
// alternative explored earlier at a node stays asleep in later siblings' subtrees until
// a transition that conflicts with it runs (conflicts: Footprint::conflictsWith).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "emu/core/Schedule.h"

namespace hph {

struct SearchNode {
  std::vector<ActorId> enabled;
  ActorId current = kNoActor;
  bool currentEnabled = false;
  uint32_t preemptionsBefore = 0;
  ActorId chosen = kNoActor;
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
  DepthFirstSearch(std::vector<SearchNode> prefix, uint32_t preemptionBound, bool sleepSets);

  ActorId choose(const SchedulingPoint& point) override;
  bool wantsFootprints() const override { return sleepSets_; }
  void transitionDone(const Footprint& footprint) override;

  // Moves to the next run of the subtree; false when it is exhausted.
  bool backtrack();
  const std::vector<SearchNode>& path() const { return path_; }
  // A replayed prefix saw other choices than recorded: the harness is not deterministic.
  bool diverged() const { return diverged_; }

 private:
  std::vector<SearchNode> path_;
  size_t fixed_;
  size_t replay_;
  uint32_t bound_;
  bool sleepSets_;
  size_t lastNode_ = SIZE_MAX;
  std::vector<std::pair<ActorId, Footprint>> pendingSleep_;
  bool diverged_ = false;
};

}  // namespace hph
