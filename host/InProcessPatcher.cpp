#include "host/InProcessPatcher.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "host/AliasStore.h"
#include "host/MoveRetries.h"
#include "host/ThreadArch.h"
#include "support/HexText.h"

namespace hph {
namespace {

int membarrier(int command) { return static_cast<int>(syscall(__NR_membarrier, command, 0, 0)); }

constexpr int kReleaseTries = 10000;

}  // namespace

bool InProcessPatcher::prepare(const Plan& plan, std::string& error) {
  // Registering is needed only by a plan that issues it (hph refused a host without it).
  const bool syncs = std::any_of(plan.steps.begin(), plan.steps.end(),
                                 [](const Step& s) { return std::holds_alternative<SyncAllStep>(s); });
  if (syncs && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) != 0) {
    error = "membarrier: MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE is not available on this kernel";
    return false;
  }
  return true;
}

bool InProcessPatcher::store(const StoreStep& step, std::string& error) {
  uint8_t* alias = memory_.writable(step.address, step.bytes.size());
  if (!alias) {
    error = "the store lies outside the mapped images";
    return false;
  }
  return storeThroughAlias(alias, step, error);
}

bool InProcessPatcher::movePcs(const MovePcStep& step, std::string& error) {
  for (size_t t = 0; t < threads_.size(); ++t) {
    const auto pc = threads_.pcOf(t);
    if (!pc || !step.covers(*pc)) continue;
    if (const auto to = step.movedTo(*pc)) {
      threads_.setPc(t, *to);
    } else {
      error = "thread " + std::to_string(t) + " stopped inside an instruction of the displaced span";
      return false;
    }
  }
  return true;
}

std::optional<std::string> InProcessPatcher::blockingReturnAddress(const MovePcStep& step) const {
  for (size_t t = 0; t < threads_.size(); ++t)
    if (const auto found = threads_.returnAddressInside(t, step.from, step.size))
      return "thread " + std::to_string(t) + " has return address " + hexAddress(found->first) +
             (found->second ? " on its stack at " + hexAddress(found->second) : std::string(" in its link register"));
  return std::nullopt;
}

bool InProcessPatcher::release(const ReleaseStep& step, std::string& error) {
  for (int attempt = 0; attempt < kReleaseTries; ++attempt) {
    if (!threads_.suspendAll(error)) return false;
    bool inside = false;
    for (size_t t = 0; t < threads_.size(); ++t)
      if (const auto pc = threads_.pcOf(t); pc && *pc >= step.address && *pc < step.address + step.size) inside = true;
    threads_.resumeAll();
    if (!inside) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  error = "a thread stayed inside the released range";
  return false;
}

bool InProcessPatcher::apply(const Plan& plan, HostResult& result, std::string& error,
                             const std::function<void(size_t)>& afterStep) {
  using Clock = std::chrono::steady_clock;
  const auto begin = Clock::now();
  bool suspended = false;
  MoveRetries retries;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const auto stepBegin = Clock::now();
    const Step& step = plan.steps[i];
    bool ok = true;
    if (const auto* s = std::get_if<StoreStep>(&step)) {
      ok = store(*s, error);
    } else if (const auto* c = std::get_if<CacheMaintenanceStep>(&step)) {
      thread_arch::codeChanged(c->address, c->size);
    } else if (std::holds_alternative<SyncAllStep>(step)) {
      ok = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) == 0;
      if (!ok) error = "membarrier SYNC_CORE failed";
    } else if (std::holds_alternative<SuspendAllStep>(step)) {
      ok = suspended = threads_.suspendAll(error);
    } else if (std::holds_alternative<ResumeAllStep>(step)) {
      threads_.resumeAll();
      suspended = false;
    } else if (const auto* m = std::get_if<MovePcStep>(&step)) {
      if (const auto blocker = blockingReturnAddress(*m)) {
        // As the emulator's patcher does: let every thread run on and try again from the
        // suspend-all, a bounded number of times, then give up (a refusal, not a fault).
        threads_.resumeAll();
        suspended = false;
        if (!retries.goBack(plan, i, *blocker, result, error)) return false;
        continue;
      }
      ok = movePcs(*m, error);
    } else if (const auto* r = std::get_if<ReleaseStep>(&step)) {
      ok = release(*r, error);
    }
    result.stepNanoseconds.push_back(
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - stepBegin).count()));
    if (!ok) {
      if (suspended) threads_.resumeAll();
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
