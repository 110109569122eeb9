#include "harness/explore/PctStrategy.h"

#include <algorithm>

namespace hph {

PctStrategy::PctStrategy(uint64_t seed, uint64_t scheduleIndex, std::vector<ActorId> actors,
                         uint64_t steps, uint32_t depth)
    : rng_(Rng::forSchedule(seed, scheduleIndex)), depth_(depth) {
  // Initial priorities d, d+1, ..., d+n-1 in random order (Fisher-Yates).
  for (size_t i = actors.size(); i > 1; --i) std::swap(actors[i - 1], actors[rng_.below(i)]);
  for (size_t i = 0; i < actors.size(); ++i) priority_[actors[i]] = depth_ + i;
  nextPriority_ = depth_ + actors.size();
  // d-1 change points, distinct, in [0, steps); the i-th lowers priority to d-1-i... 1.
  const uint64_t k = std::max<uint64_t>(steps, 1);
  for (uint32_t i = 1; i < depth_ && changePoints_.size() < k; ++i) {
    uint64_t at = rng_.below(k);
    while (changePoints_.count(at)) at = (at + 1) % k;
    changePoints_[at] = depth_ - i;
  }
}

ActorId PctStrategy::choose(const SchedulingPoint& point) {
  for (ActorId actor : point.enabled)
    if (!priority_.count(actor)) priority_[actor] = nextPriority_ + rng_.below(nextPriority_);
  if (auto change = changePoints_.find(point.index); change != changePoints_.end() && point.current >= 0)
    priority_[point.current] = change->second;
  ActorId best = point.enabled.front();
  for (ActorId actor : point.enabled)
    if (priority_[actor] > priority_[best]) best = actor;
  return best;
}

}  // namespace hph
