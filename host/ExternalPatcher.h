// The external patcher: the Windows model, where the patch arrives from outside the
// process. It seizes every thread of the runner with ptrace and applies the Plan's steps.
// Which primitive carries which step:
//   store              the runner's guest-image memfd (found in /proc/PID/fd) mapped
//                      here writable: one __atomic_store_n per single-copy-atomic piece
//                      (a /proc/PID/mem write is a kernel memcpy and promises no width)
//   sync-all           a ptrace stop and restart of every thread: each enters and leaves
//                      the kernel, which context-synchronises it
//   suspend-all        PTRACE_INTERRUPT every thread and wait for its stop
//   move-pc            PTRACE_GETREGSET / PTRACE_SETREGSET of a stopped thread's PC
//   resume-all         PTRACE_CONT every thread (re-delivering a signal it stopped with)
//   release            stop all, read the PCs, restart; again until none is inside
//   cache-maintenance  nothing to do from outside on x86-64 (coherent instruction fetch)
// Before it returns it detaches from every thread, stopped or not.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "host/HostJob.h"

namespace hph {

class ExternalPatcher {
 public:
  // Opens the runner's memfd, waits for its threads to run, and seizes them all.
  static std::optional<ExternalPatcher> attach(pid_t target, const HostJob& job, std::string& error);
  ExternalPatcher(ExternalPatcher&& other) noexcept;
  ExternalPatcher& operator=(ExternalPatcher&&) = delete;
  ~ExternalPatcher();

  // Stops every thread and single-steps one guest thread until its PC is `pc` (within
  // `maxSteps` steps); it stays stopped there until the next resume or detach.
  bool parkAt(uint64_t pc, uint64_t maxSteps, std::string& error);
  // What the runner's threads count their calls under (the control page).
  void setPhase(PlanPhase phase);
  // Applies every step, timing each.
  // `afterStep(n)` runs once n steps are done (the kill-at-every-step tests end the
  // patcher there).
  bool apply(const Plan& plan, HostResult& result, std::string& error,
             const std::function<void(size_t)>& afterStep = {});
  void detach();

 private:
  ExternalPatcher() = default;
  struct Tracee {
    pid_t tid = 0;
    bool stopped = false;
    int pendingSignal = 0;  // a signal it stopped with, delivered when it continues
  };
  bool seizeAll(std::string& error);
  bool stopAll(std::string& error);
  void continueAll();
  // A thread that stopped with a signal while running (its int3 handler's SIGTRAP):
  // let it take the signal and go on.
  void passSignals();
  std::optional<uint64_t> pcOf(const Tracee& t) const;
  std::optional<uint64_t> spOf(const Tracee& t) const;
  // A stopped thread's return address strictly inside the step's span, on its stack (from
  // its SP to the end of the mapping holding it, read through /proc/PID/mem), described.
  std::optional<std::string> blockingReturnAddress(const MovePcStep& step) const;
  bool setPc(const Tracee& t, uint64_t pc) const;
  uint8_t* writable(uint64_t address, uint64_t size) const;
  bool store(const StoreStep& step, std::string& error);

  pid_t target_ = 0;
  std::vector<Tracee> tracees_;
  std::vector<HostMapping> layout_;
  uint8_t* alias_ = nullptr;
  uint64_t total_ = 0;
};

}  // namespace hph
