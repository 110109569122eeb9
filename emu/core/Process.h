// Guest threads of one Machine. Unicorn compiles no parallel code, so a thread is a
// register context (uc_context) with its own stack and TEB, switched in and out of the
// one engine by whoever schedules them.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "emu/core/Machine.h"

namespace hph {

enum class ThreadState { kRunnable, kBlocked, kFinished };

struct GuestThread {
  uint32_t index = 0;
  uint64_t id = 0;      // Windows thread id (multiples of 4, as Windows hands out)
  uint64_t handle = 0;  // what CreateThread returned / WaitForSingleObject takes
  uint64_t entry = 0;
  uint64_t argument = 0;
  uint64_t teb = 0;
  uint64_t stackTop = 0;
  ThreadState state = ThreadState::kRunnable;
  bool started = false;     // registers are set up the first time it runs
  uint64_t waitingFor = 0;  // handle, while blocked
  uint64_t exitCode = 0;
  uint32_t lastError = 0;
  uint64_t instructions = 0;  // counting mode only
  double fastSeconds = 0;     // fast mode: wall time run so far (bounds its instructions)
  std::shared_ptr<uc_context> context;
};

// Every thread at one moment, registers included (each context its own copy): what a
// run checkpoint keeps of the process.
struct ProcessCheckpoint {
  std::vector<GuestThread> threads;
  uint32_t mainLastError = 0;
};

class Process final : public ThreadServices {
 public:
  // Thread areas (stack + TEB) live here, one per thread index, kept across schedules.
  static constexpr uint64_t kThreadAreaBase = 0x7FFC'0000'0000;
  static constexpr uint32_t kMaxThreads = 256;
  static constexpr uint64_t kStillActive = 259;

  Process(Machine& machine, uint64_t stackBytes);
  ~Process() override;

  // Forget every thread (their memory is restored by the Machine's snapshot).
  void reset();
  // Copies every thread (their memory is the Machine's to snapshot).
  ProcessCheckpoint checkpoint() const;
  // Back to a checkpoint: afterwards no thread's registers are in the engine.
  void resume(const ProcessCheckpoint& saved);
  // A new runnable thread that will run entry(argument); its index.
  Result<uint32_t> spawn(uint64_t entry, uint64_t argument);
  // Runs thread `index` until it returns, blocks, yields or faults; switches contexts.
  // In fast mode a thread whose wall time could have let it exceed `budget` instructions
  // stops with kTimeout, whatever it did: the caller re-runs the schedule counting.
  RunStop run(uint32_t index, uint64_t budget);

  // The PC of a thread that is not running (from its saved context or the engine).
  uint64_t pcOf(uint32_t index) const { return registerOf(index, machine_.arch().pcRegister()); }
  // Any register of a thread that is not running (a thread not started yet: 0, PC its entry).
  uint64_t registerOf(uint32_t index, int reg) const;
  void setPc(uint32_t index, uint64_t pc);
  // A return address of thread `index` strictly inside (from, from + size): Arm64's x30,
  // or any 8-byte word on its stack (conservative: a stale word counts too). The value
  // and where it was found (0 for x30).
  std::optional<std::pair<uint64_t, uint64_t>> returnAddressInside(uint32_t index, uint64_t from, uint64_t size) const;

  // Is the address in thread `index`'s own area (its stack or TEB)?
  bool ownsAddress(uint32_t index, uint64_t address) const {
    return index < areas_.size() && areas_[index]->contains(address);
  }

  std::vector<GuestThread>& threads() { return threads_; }
  const std::vector<GuestThread>& threads() const { return threads_; }
  const GuestThread* byHandle(uint64_t handle) const;

  // ThreadServices, for the shims.
  uint64_t currentThreadId() const override;
  std::optional<uint64_t> createThread(uint64_t entry, uint64_t parameter, uint64_t* id) override;
  WaitResult wait(uint64_t handle, bool mayBlock) override;
  std::optional<uint64_t> exitCode(uint64_t handle) const override;
  uint32_t lastError() const override { return running_ >= 0 ? threads_[running_].lastError : mainLastError_; }
  void setLastError(uint32_t value) override {
    (running_ >= 0 ? threads_[running_].lastError : mainLastError_) = value;
  }

 private:
  Result<void> ensureArea(uint32_t index);
  Result<void> start(GuestThread& thread);
  void saveLoaded();
  void finish(GuestThread& thread, uint64_t exitCode);

  Machine& machine_;
  uint64_t stackBytes_;
  uint64_t areaStride_;
  std::vector<Region*> areas_;
  std::vector<GuestThread> threads_;
  uint32_t mainLastError_ = 0;
  // Registers as a fresh engine has them: every thread starts from these, so nothing of
  // one thread or schedule leaks into the next through registers run() does not set.
  std::shared_ptr<uc_context> clean_;
  std::vector<std::shared_ptr<uc_context>> contexts_;  // by thread index, reused across runs
  int loaded_ = -1;                                    // the thread whose registers are in the engine
  int running_ = -1;                                   // the thread run() is running (for GetCurrentThreadId)
};

}  // namespace hph
