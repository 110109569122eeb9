#include "host/PlanApplier.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "host/MoveRetries.h"

namespace hph {
namespace {

// Between two looks at a release range the threads must get to run: resume-all returns
// before they are scheduled, and with more threads than cores (and the patcher at
// real-time priority) a fixed short pause could look again before one inside ever ran.
// So the pause grows, up to the kernel's tick and beyond, within an overall bound.
constexpr auto kReleaseFirstPause = std::chrono::microseconds(50);
constexpr auto kReleaseLongestPause = std::chrono::milliseconds(8);
constexpr auto kReleaseBound = std::chrono::seconds(10);

bool movePcs(PatchTarget& target, const MovePcStep& step, std::string& error) {
  for (const StoppedThread& thread : target.stoppedThreads()) {
    if (!step.covers(thread.pc)) continue;
    const auto to = step.movedTo(thread.pc);
    if (!to) {
      error = "thread " + std::to_string(thread.id) + " stopped inside an instruction of the displaced span";
      return false;
    }
    if (!target.setPc(thread, *to, error)) return false;
  }
  return true;
}

// Stop everyone, look where they are, let them go; again until none is inside.
bool release(PatchTarget& target, const ReleaseStep& step, std::string& error) {
  const auto giveUp = std::chrono::steady_clock::now() + kReleaseBound;
  std::chrono::microseconds pause = kReleaseFirstPause;
  for (;;) {
    if (!target.suspendAll(error)) return false;
    bool inside = false;
    for (const StoppedThread& thread : target.stoppedThreads())
      inside |= thread.pc >= step.address && thread.pc < step.address + step.size;
    target.resumeAll();
    if (!inside) return true;
    if (std::chrono::steady_clock::now() > giveUp) break;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, kReleaseLongestPause);
  }
  error = "a thread stayed inside the released range for 10 s";
  return false;
}

}  // namespace

bool applyPlan(PatchTarget& target, const Plan& plan, HostResult& result, std::string& error,
               const std::function<void(size_t)>& afterStep) {
  using Clock = std::chrono::steady_clock;
  const auto begin = Clock::now();
  bool suspended = false;
  MoveRetries retries;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const auto stepBegin = Clock::now();
    const Step& step = plan.steps[i];
    target.beforeStep();
    bool ok = true;
    if (const auto* s = std::get_if<StoreStep>(&step)) {
      ok = target.store(*s, error);
    } else if (const auto* c = std::get_if<CacheMaintenanceStep>(&step)) {
      ok = target.cacheMaintenance(c->address, c->size, error);
    } else if (std::holds_alternative<SyncAllStep>(step)) {
      ok = target.syncAll(error);
    } else if (std::holds_alternative<SuspendAllStep>(step)) {
      ok = suspended = target.suspendAll(error);
    } else if (std::holds_alternative<ResumeAllStep>(step)) {
      target.resumeAll();
      suspended = false;
    } else if (const auto* m = std::get_if<MovePcStep>(&step)) {
      std::optional<std::string> blocker;
      if (!target.returnAddressInside(m->from, m->size, blocker, error)) {
        ok = false;
      } else if (blocker) {
        // No PC move can fix a return address: everyone runs on, and the plan tries again
        // from the suspend-all, a bounded number of times, then gives up (a refusal).
        target.resumeAll();
        suspended = false;
        if (!retries.goBack(plan, i, *blocker, result, error)) return false;
        continue;
      } else {
        ok = movePcs(target, *m, error);
      }
    } else if (const auto* r = std::get_if<ReleaseStep>(&step)) {
      ok = release(target, *r, error);
    }
    result.stepNanoseconds.push_back(
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - stepBegin).count()));
    if (!ok) {
      if (suspended) target.resumeAll();
      error = "step " + std::to_string(i + 1) + ": " + error;
      return false;
    }
    if (afterStep) afterStep(i + 1);
  }
  result.applyNanoseconds =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - begin).count());
  return true;
}

}  // namespace hph
