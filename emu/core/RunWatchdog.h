// Stops an engine run that has gone on past its deadline, from a helper thread.
//
// Without a block hook Unicorn runs guest code at full speed but cannot count it, so
// runs in fast mode are bounded by wall time instead: no guest executes more than
// kMaxInstructionsPerSecond, so a thread that stayed under budget / that rate seconds
// stayed under its instruction budget. A run past that is not judged; it is re-executed
// with exact counting (see Scheduler). The watchdog only ends runs that never would.
#pragma once

#include <unicorn/unicorn.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace hph {

class RunWatchdog {
 public:
  using Clock = std::chrono::steady_clock;
  // A generous ceiling on emulated speed (measured here: ~8.7 G/s raw on an ALU loop).
  static constexpr double kMaxInstructionsPerSecond = 50e9;

  explicit RunWatchdog(uc_engine* engine);
  ~RunWatchdog();
  RunWatchdog(const RunWatchdog&) = delete;
  RunWatchdog& operator=(const RunWatchdog&) = delete;

  // Around one uc_emu_start: returns the run's id.
  uint64_t arm(Clock::time_point deadline);
  // true when the watchdog stopped run `id`.
  bool disarm(uint64_t id);

 private:
  void watch();

  uc_engine* engine_;
  std::atomic<uint64_t> activeRun_{0};  // 0: no run in progress
  std::atomic<int64_t> deadline_{0};    // Clock ticks
  std::atomic<uint64_t> firedRun_{0};
  uint64_t nextRun_ = 1;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace hph
