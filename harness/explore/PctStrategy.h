// PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
// ASPLOS 2010): random distinct priorities, always run the highest-priority enabled actor,
// and at d-1 random points drop the running actor's priority below all others. A bug of
// depth d in a run of k points is found with probability at least 1/(n k^(d-1)).
#pragma once

#include <map>
#include <vector>

#include "emu/core/Schedule.h"
#include "emu/core/Rng.h"

namespace hph {

class PctStrategy final : public DecisionSource {
 public:
  // actors: the actors present at the start (threads and the patcher); steps: an estimate
  // of the points in a run (k); depth: d.
  PctStrategy(uint64_t seed, uint64_t scheduleIndex, std::vector<ActorId> actors, uint64_t steps,
              uint32_t depth);
  ActorId choose(const SchedulingPoint& point) override;

 private:
  Rng rng_;
  uint32_t depth_;
  uint64_t nextPriority_;                  // for actors that appear later (CreateThread)
  std::map<ActorId, uint64_t> priority_;   // higher runs first
  std::map<uint64_t, uint64_t> changePoints_;  // point index -> the lowered priority
};

}  // namespace hph
