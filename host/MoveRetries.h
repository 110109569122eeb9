// What both host patchers do when a move-pc step finds a return address inside its span,
// as the emulator's plan does (emu/core/PatcherActor.cpp): no PC move can fix it, so
// everyone runs on and the plan goes back to the suspend-all before the step, at most
// the step's `retries` times; then it gives up, a refusal rather than a fault.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "host/HostJob.h"
#include "plan/Plan.h"
#include "support/HexText.h"

namespace hph {

class MoveRetries {
 public:
  // Between two tries: long enough for a thread to return out of a short callee.
  static constexpr auto kPause = std::chrono::microseconds(200);

  // Step `index` (a MovePcStep) was blocked by `blocker`. The index of the suspend-all to
  // go on from, or nullopt once its retries are spent (result.gaveUp then says why).
  std::optional<size_t> retryFrom(const Plan& plan, size_t index, const std::string& blocker, HostResult& result) {
    const auto& step = std::get<MovePcStep>(plan.steps[index]);
    ++result.moveRetries;
    if (++taken_[index] > step.retries) {
      result.gaveUp = "stop-the-world at " + hexAddress(step.from) + " gave up after " + std::to_string(step.retries) +
                      " retries: " + blocker;
      return std::nullopt;
    }
    size_t suspend = index;
    while (suspend > 0 && !std::holds_alternative<SuspendAllStep>(plan.steps[suspend - 1])) --suspend;
    return suspend == 0 ? 0 : suspend - 1;
  }

 private:
  std::map<size_t, uint32_t> taken_;  // move-pc step index -> retries so far
};

}  // namespace hph
