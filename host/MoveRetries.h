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
#include <thread>
#include <variant>

#include "host/HostJob.h"
#include "plan/Plan.h"
#include "support/HexText.h"

namespace hph {

class MoveRetries {
 public:
  // Between two tries: long enough for a thread to return out of a short callee.
  static constexpr auto kPause = std::chrono::microseconds(200);

  // Step `index` (a MovePcStep) was blocked by `blocker`, and every thread runs on again.
  // After a pause, `index` is set so that a plan loop's ++index lands on the suspend-all
  // before the step (unsigned wrap is defined); false once its retries are spent
  // (result.gaveUp and `error` then say why).
  bool goBack(const Plan& plan, size_t& index, const std::string& blocker, HostResult& result, std::string& error) {
    const auto& step = std::get<MovePcStep>(plan.steps[index]);
    ++result.moveRetries;
    if (++taken_[index] > step.retries) {
      result.gaveUp = "stop-the-world at " + hexAddress(step.from) + " gave up after " + std::to_string(step.retries) +
                      " retries: " + blocker;
      error = result.gaveUp;
      return false;
    }
    size_t suspend = index;
    while (suspend > 0 && !std::holds_alternative<SuspendAllStep>(plan.steps[suspend - 1])) --suspend;
    std::this_thread::sleep_for(kPause);
    index = (suspend == 0 ? 0 : suspend - 1) - 1;
    return true;
  }

 private:
  std::map<size_t, uint32_t> taken_;  // move-pc step index -> retries so far
};

}  // namespace hph
