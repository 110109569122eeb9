// Follows a recorded list of off-default decisions; everywhere else the default rule.
// This is how replay tokens, counterexample minimisation and traces re-run a schedule.
#pragma once

#include <algorithm>
#include <vector>

#include "emu/core/Schedule.h"

namespace hph {

class ReplaySource final : public DecisionSource {
 public:
  // `decisions` ascending by point, as RunRecord::decisions are.
  explicit ReplaySource(std::vector<std::pair<uint64_t, ActorId>> decisions) : decisions_(std::move(decisions)) {}

  ActorId choose(const SchedulingPoint& point) override {
    lastPoint_ = point.index;
    anyPoint_ = true;
    // Points arrive in increasing order: a cursor finds the decision in O(1).
    while (next_ < decisions_.size() && decisions_[next_].first < point.index) ++next_;
    if (next_ == decisions_.size() || decisions_[next_].first != point.index) return defaultChoice(point);
    const ActorId actor = decisions_[next_].second;
    // A recorded actor that cannot run here means the run diverged (minimisation removed
    // an earlier decision, or the token belongs to other inputs): note it, use the default.
    if (std::binary_search(point.enabled.begin(), point.enabled.end(), actor)) return actor;
    diverged_ = true;
    return defaultChoice(point);
  }
  bool diverged() const { return diverged_; }
  // Whether the run reached every recorded decision's point. A token whose decisions run
  // past the end of the schedule does not describe this schedule: it must not replay as
  // the default schedule's "holds".
  bool reachedAll() const { return decisions_.empty() || (anyPoint_ && decisions_.back().first <= lastPoint_); }

 private:
  std::vector<std::pair<uint64_t, ActorId>> decisions_;
  size_t next_ = 0;
  bool diverged_ = false;
  uint64_t lastPoint_ = 0;
  bool anyPoint_ = false;
};

}  // namespace hph
