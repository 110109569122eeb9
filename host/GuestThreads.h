// Real threads running guest code: each calls the job's entry with its index, again and
// again, until told to stop. The patcher can stop them all where they are (a signal
// whose handler waits for the word to go on, as a debugger's suspend would), read and
// move their PCs (in the handler's saved context), and let them go. A guest fault in one
// (SIGSEGV, SIGILL, SIGBUS, SIGTRAP) ends that thread with a report, not the runner.
//
// Signal handlers are process-wide, so the one GuestThreads of a runner is reached
// through a process-global pointer: the only global of the runner, and why it exists.
#pragma once

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "host/HostJob.h"

namespace hph {

class GuestThreads {
 public:
  GuestThreads();
  ~GuestThreads();
  GuestThreads(const GuestThreads&) = delete;
  GuestThreads& operator=(const GuestThreads&) = delete;

  // Starts `count` threads calling `entry(index)`; false with `error` when it cannot.
  // A thread trapping on an int3 at a redirect's first address continues at its second.
  bool start(uint64_t entry, uint32_t count, std::vector<std::pair<uint64_t, uint64_t>> breakpointRedirects,
             std::string& error);
  // The word the threads read the plan's phase from (the control page, which either
  // patcher writes).
  void watchPhase(const uint64_t* phase) { phase_ = phase; }
  // Stops every thread after its current call and waits for them.
  void stopAndJoin();

  // Every live thread stopped in its handler, those spawned meanwhile included; false
  // (and all resumed) after a timeout.
  bool suspendAll(std::string& error);
  // Lets every thread go on; returns without waiting for them to be scheduled.
  void resumeAll();
  // The threads so far, by index: the workers first, then those guest code created.
  size_t size() const { return published_.load(std::memory_order_acquire); }

  // CreateThread (host/NativeShims.cpp): a thread running guest `entry(argument)` once,
  // one of these threads like the workers (suspended, moved and reported with them). Its
  // index, or nullopt when every one of kMaxThreads slots holds a thread that is running
  // or not yet closed, or the threads are stopping. A slot is reused once its thread
  // ended and its handle was closed.
  static constexpr uint32_t kMaxThreads = kAgentMaxThreads;
  std::optional<uint32_t> spawn(uint64_t entry, uint64_t argument);
  bool ended(uint32_t index) const { return slots_[index]->done.load(std::memory_order_acquire); }
  uint64_t exitCode(uint32_t index) const { return slots_[index]->exitCode.load(std::memory_order_acquire); }
  void close(uint32_t index);
  bool stopping() const { return stop_.load(std::memory_order_acquire); }
  // The runner's one GuestThreads (see above), for the native shims.
  static GuestThreads* active();
  // While suspended: a thread's PC (nullopt when it is not suspended: it ended).
  std::optional<uint64_t> pcOf(size_t thread) const;
  void setPc(size_t thread, uint64_t pc);
  // While suspended: a return address strictly inside [from, from + size) in the thread's
  // link register or on its stack (from its SP to the stack's top), as {value, slot; 0
  // for the link register}. No PC move can fix one: the plan retries (MovePcStep).
  std::optional<std::pair<uint64_t, uint64_t>> returnAddressInside(size_t thread, uint64_t from, uint64_t size) const;

  // After stopAndJoin.
  void collect(HostResult& result) const;
  // Runs guest `entry()` on the calling thread with a TEB of its own.
  static uint64_t callOnThisThread(uint64_t entry);

 private:
  struct Slot {
    GuestThreads* owner = nullptr;
    uint32_t index = 0;
    uint64_t entry = 0;
    bool spawned = false;   // created by guest code: runs entry(argument) once
    uint64_t argument = 0;  // spawned: its argument (workers get their index)
    std::atomic<uint64_t> exitCode{0};
    std::atomic<bool> closed{false};  // spawned: its handle was closed
    pthread_t handle{};
    bool started = false;
    std::atomic<bool> done{false};
    // The suspend handshake. suspendAll bumps `requested` (after setting `resume` to 0)
    // and waits until the thread's handler stores that value in `parkedFor`: the thread
    // is parked for this suspension, and `context` is its saved state. resumeAll sets
    // `resume` and wakes the thread without waiting for it to leave the handler: with
    // more threads than cores that wait took the kernel's time slices (multiples of its
    // 4 ms tick), and a stale `parkedFor` can never match a later suspension's number.
    std::atomic<uint64_t> requested{0}, parkedFor{0};
    // 1: go on.
    std::atomic<uint32_t> resume{1};
    // Rung (incremented) by every suspend and resume: a parked thread sleeps on it (futex),
    // so the threads still running and the patcher get the cores, and no change between
    // its look at the words above and its sleep is missed.
    std::atomic<uint32_t> bell{0};
    ucontext_t* context = nullptr;  // while suspended
    sigjmp_buf escape;
    bool faulted = false;
    HostFault fault;
    uint64_t calls = 0, before = 0, after = 0;
    LatencyHistogram steady, duringApply;
    std::vector<uint8_t> teb;
    uint64_t stackTop = 0;  // the end of its pthread stack
  };
  // Parked for the current suspension (and not resumed since).
  bool parked(const Slot& slot) const;
  static void ring(Slot& slot);
  // Asks `slot` to park under suspension `number` (with spawnMutex_ held).
  static void request(Slot& slot, uint64_t number);
  int startThread(Slot& slot);  // pthread_create's result
  static void* threadMain(void* slot);
  static void onSuspend(int, siginfo_t*, void* context);
  static void onFault(int signal, siginfo_t*, void* context);

  // Slots are only added, under spawnMutex_, and published by `published_`: the patcher
  // reads those below it without the lock.
  std::array<std::unique_ptr<Slot>, kMaxThreads> slots_{};
  std::atomic<uint32_t> published_{0};
  // Held briefly, never while waiting for a thread: by spawn (its caller has the suspend
  // signal blocked meanwhile) and by the patcher to start and end a suspension.
  std::mutex spawnMutex_;
  bool suspending_ = false;  // a suspension is in force (spawnMutex_)
  // Faults of spawned threads whose slots were reused since (spawnMutex_).
  std::vector<HostFault> spawnedFaults_;
  std::vector<std::pair<uint64_t, uint64_t>> breakpointRedirects_;
  std::atomic<bool> stop_{false};
  uint64_t suspension_ = 0;  // the patcher's count of suspensions: the handshake's number
  // Bumped by every thread that parks under a new number: the patcher sleeps on it (futex).
  std::atomic<uint32_t> parkings{0};
  const uint64_t* phase_ = nullptr;
};

}  // namespace hph
