// Follows a recorded list of off-default decisions; everywhere else the default rule.
// This is how replay tokens, counterexample minimisation and traces re-run a schedule.
#pragma once

#include <algorithm>
#include <map>
#include <vector>

#include "emu/core/Schedule.h"

namespace hph {

class ReplaySource final : public DecisionSource {
 public:
  explicit ReplaySource(const std::vector<std::pair<uint64_t, ActorId>>& decisions)
      : decisions_(decisions.begin(), decisions.end()) {}

  ActorId choose(const SchedulingPoint& point) override {
    auto it = decisions_.find(point.index);
    if (it == decisions_.end()) return defaultChoice(point);
    // A recorded actor that cannot run here means the run diverged (minimisation removed
    // an earlier decision, or the token belongs to other inputs): note it, use the default.
    if (std::binary_search(point.enabled.begin(), point.enabled.end(), it->second)) return it->second;
    diverged_ = true;
    return defaultChoice(point);
  }
  bool diverged() const { return diverged_; }

 private:
  bool diverged_ = false;
  std::map<uint64_t, ActorId> decisions_;
};

}  // namespace hph
