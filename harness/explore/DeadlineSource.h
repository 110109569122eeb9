// Stops one run when the exploration's time is up. --max-time is otherwise only looked
// at between runs, and a single run can last minutes: a thread may run up to its
// instruction budget (10^9 by default), with `points = "all"` one scheduling point per
// instruction. Wrapping the strategy, not the scheduler, keeps the check in the
// exploration where --max-time lives.
#pragma once

#include <functional>

#include "emu/core/Schedule.h"

namespace hph {

class DeadlineSource final : public DecisionSource {
 public:
  // expired(): true once time is up (may be called often; it is polled every few points).
  DeadlineSource(DecisionSource& inner, std::function<bool()> expired) : inner_(inner), expired_(std::move(expired)) {}

  ActorId choose(const SchedulingPoint& point) override {
    // A clock read per point would cost more than many points do.
    if ((++points_ & (kPollEvery - 1)) == 0 && expired_()) fired_ = true;
    return fired_ ? kAbandon : inner_.choose(point);
  }
  bool wantsFootprints() const override { return inner_.wantsFootprints(); }
  void transitionDone(Footprint& footprint) override { inner_.transitionDone(footprint); }
  std::span<const ActorId> plannedChoices() override { return inner_.plannedChoices(); }
  uint64_t checkpointSpacing(uint64_t index) const override { return inner_.checkpointSpacing(index); }

  // The run was abandoned because time ran out: it is no schedule and no result.
  bool fired() const { return fired_; }

 private:
  static constexpr uint64_t kPollEvery = 1024;
  DecisionSource& inner_;
  std::function<bool()> expired_;
  uint64_t points_ = 0;
  bool fired_ = false;
};

}  // namespace hph
