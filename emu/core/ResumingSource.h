// Re-executes a run that timed out in fast mode: the choices it made first, then the
// original source, which sees every call as if the run had never been interrupted.
#pragma once

#include <vector>

#include "emu/core/Schedule.h"

namespace hph {

class ResumingSource final : public DecisionSource {
 public:
  // `reported`: transitions the interrupted run already reported to `inner`.
  ResumingSource(const std::vector<ActorId>& choices, uint64_t reported, DecisionSource& inner)
      : choices_(choices), toSkip_(reported), inner_(inner) {}
  ActorId choose(const SchedulingPoint& point) override {
    return point.index < choices_.size() ? choices_[point.index] : inner_.choose(point);
  }
  bool wantsFootprints() const override { return inner_.wantsFootprints(); }
  void transitionDone(Footprint& footprint) override {
    if (toSkip_ > 0) {
      --toSkip_;
      return;
    }
    inner_.transitionDone(footprint);
  }

 private:
  const std::vector<ActorId>& choices_;
  uint64_t toSkip_;
  DecisionSource& inner_;
};

}  // namespace hph
