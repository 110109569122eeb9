// The slices of a traced run: who ran from which instruction count to which, and how the
// slice ended ("preempted before ...", a patch step). Only reported runs are traced.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "emu/core/Schedule.h"

namespace hph {

class TraceRecorder {
 public:
  TraceRecorder() = default;
  explicit TraceRecorder(bool enabled) : enabled_(enabled) {}
  void begin(ActorId actor, uint64_t clock, uint64_t pc) {
    if (enabled_) slice_ = TraceSlice{actor, clock, 0, pc, ""};
  }
  // Ends the open slice (if any) at `clock`, at least one instruction long.
  void end(uint64_t clock, std::string what, std::vector<TraceSlice>& trace) {
    if (!slice_) return;
    slice_->end = std::max(clock, slice_->begin + 1);
    slice_->what = std::move(what);
    trace.push_back(std::move(*slice_));
    slice_.reset();
  }

 private:
  bool enabled_ = false;
  std::optional<TraceSlice> slice_;
};

}  // namespace hph
