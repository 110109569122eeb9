#include "harness/explore/PctStrategy.h"

#include <algorithm>

namespace hph {

PctStrategy::PctStrategy(uint64_t seed, uint64_t scheduleIndex, std::vector<ActorId> actors, uint64_t steps,
                         uint32_t depth)
    : rng_(Rng::forSchedule(seed, scheduleIndex)), depth_(depth) {
  // Initial priorities d, d+1, ..., d+n-1 in random order (Fisher-Yates).
  for (size_t i = actors.size(); i > 1; --i) std::swap(actors[i - 1], actors[rng_.below(i)]);
  for (size_t i = 0; i < actors.size(); ++i) priority_[actors[i]] = static_cast<int64_t>(depth_ + i);
  nextPriority_ = depth_ + actors.size();
  // d-1 change points, distinct, in [0, steps); the i-th lowers priority to d-1-i... 1.
  const uint64_t k = std::max<uint64_t>(steps, 1);
  for (uint32_t i = 1; i < depth_ && changePoints_.size() < k; ++i) {
    uint64_t at = rng_.below(k);
    while (changePoints_.count(at)) at = (at + 1) % k;
    changePoints_[at] = static_cast<int64_t>(depth_ - i);
  }
}

ActorId PctStrategy::choose(const SchedulingPoint& point) {
  for (ActorId actor : point.enabled)
    if (!priority_.count(actor)) priority_[actor] = static_cast<int64_t>(nextPriority_ + rng_.below(nextPriority_));
  if (auto change = changePoints_.find(point.index); change != changePoints_.end() && point.current >= 0)
    priority_[point.current] = change->second;
  ActorId best = point.enabled.front();
  for (ActorId actor : point.enabled)
    if (priority_[actor] > priority_[best]) best = actor;
  if (point.kind == PointKind::kFetch) return best;  // versions, not actors
  streak_ = best == streakActor_ ? streak_ + 1 : 1;
  streakActor_ = best;
  if (streak_ >= kStarvationBound && point.enabled.size() > 1) {
    // Starving the others: drop below everyone (change points lower to 1..d-1).
    priority_[best] = --lowest_;
    streak_ = 0;
    best = point.enabled.front();
    for (ActorId actor : point.enabled)
      if (priority_[actor] > priority_[best]) best = actor;
  }
  return best;
}

}  // namespace hph
