#include "emu/core/RunWatchdog.h"

namespace hph {
namespace {
// Runs are judged by their measured time afterwards; the watchdog only has to end runs
// that would never return, so it may look rarely.
constexpr auto kPollInterval = std::chrono::milliseconds(5);
}  // namespace

RunWatchdog::RunWatchdog(uc_engine* engine) : engine_(engine), thread_([this] { watch(); }) {}

RunWatchdog::~RunWatchdog() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

uint64_t RunWatchdog::arm(Clock::time_point deadline) {
  std::lock_guard lock(mutex_);
  const uint64_t id = nextRun_++;
  deadline_.store(deadline.time_since_epoch().count(), std::memory_order_relaxed);
  activeRun_.store(id, std::memory_order_release);
  return id;
}

bool RunWatchdog::disarm(uint64_t id) {
  // Under the lock: once this returns, no stop meant for this run can reach a later one.
  std::lock_guard lock(mutex_);
  activeRun_.store(0, std::memory_order_release);
  return firedRun_.load(std::memory_order_acquire) == id;
}

void RunWatchdog::watch() {
  std::unique_lock lock(mutex_);
  while (!quit_) {
    wake_.wait_for(lock, kPollInterval);
    const uint64_t run = activeRun_.load(std::memory_order_acquire);
    if (run == 0) continue;
    if (Clock::now().time_since_epoch().count() < deadline_.load(std::memory_order_relaxed)) continue;
    // The lock is held: the run cannot be disarmed (and a next one armed) meanwhile; a
    // stop after the engine returned but before disarm is ignored by Unicorn.
    firedRun_.store(run, std::memory_order_release);
    uc_emu_stop(engine_);
  }
}

}  // namespace hph
