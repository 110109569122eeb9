// Random preemptions: at each scheduling point the running actor is preempted with a
// fixed probability in favour of a uniformly chosen other actor.
#pragma once

#include <algorithm>

#include "emu/core/Schedule.h"
#include "support/Rng.h"

namespace hph {

class RandomStrategy final : public DecisionSource {
 public:
  RandomStrategy(uint64_t seed, uint64_t scheduleIndex, double switchProbability)
      : rng_(Rng::forSchedule(seed, scheduleIndex)), switchProbability_(switchProbability) {}

  ActorId choose(const SchedulingPoint& point) override {
    const auto& enabled = point.enabled;
    if (enabled.size() == 1) return enabled.front();
    if (!point.currentEnabled) return enabled[rng_.below(enabled.size())];
    if (!rng_.chance(switchProbability_)) return point.current;
    // Uniform among the others: draw from size-1 slots and step over the current actor.
    const size_t current = std::lower_bound(enabled.begin(), enabled.end(), point.current) - enabled.begin();
    size_t pick = rng_.below(enabled.size() - 1);
    if (pick >= current) ++pick;
    return enabled[pick];
  }

 private:
  Rng rng_;
  double switchProbability_;
};

}  // namespace hph
