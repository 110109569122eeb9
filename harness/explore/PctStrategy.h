// PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
// ASPLOS 2010): random distinct priorities, always run the highest-priority enabled actor,
// and at d-1 random points drop the running actor's priority below all others. A bug of
// depth d in a run of k points is found with probability at least 1/(n k^(d-1)).
//
// Strict priorities starve: a high-priority thread spinning on a flag that a lower one
// must set would spin until its budget (and the run would be reported as a runaway that
// no fair scheduler produces). Real schedulers preempt a spinning thread, so here an
// actor chosen kStarvationBound points in a row while others could run drops below all
// others, as at a change point.
#pragma once

#include <map>
#include <vector>

#include "emu/core/Schedule.h"
#include "support/Rng.h"

namespace hph {

class PctStrategy final : public DecisionSource {
 public:
  // actors: the actors present at the start (threads and the patcher); steps: an estimate
  // of the points in a run (k); depth: d.
  PctStrategy(uint64_t seed, uint64_t scheduleIndex, std::vector<ActorId> actors, uint64_t steps, uint32_t depth);
  ActorId choose(const SchedulingPoint& point) override;

  static constexpr uint64_t kStarvationBound = 100'000;

 private:
  Rng rng_;
  uint32_t depth_;
  uint64_t nextPriority_;                     // for actors that appear later (CreateThread)
  std::map<ActorId, int64_t> priority_;       // higher runs first
  std::map<uint64_t, int64_t> changePoints_;  // point index -> the lowered priority
  ActorId streakActor_ = kNoActor;            // chosen at the last points in a row ...
  uint64_t streak_ = 0;                       // ... this many times
  int64_t lowest_ = 0;                        // starved actors go below it, -1, -2, ...
};

}  // namespace hph
