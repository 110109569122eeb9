// The external patcher on the x64 runner: it seizes every thread with ptrace. Which
// primitive carries which step:
//   store              the runner's memfd mapped here (ExternalPatcher)
//   sync-all           a ptrace stop and restart of every thread: each enters and leaves
//                      the kernel, which context-synchronises it
//   suspend-all        PTRACE_INTERRUPT every thread and wait for its stop; then seize
//                      and stop threads created since, until the task list is stable
//   move-pc            PTRACE_GETREGSET / PTRACE_SETREGSET of a stopped thread's PC
//   resume-all         PTRACE_CONT every thread (re-delivering a signal it stopped with)
//   release            stop all, read the PCs, restart; again until none is inside
//   cache-maintenance  nothing to do from outside on x86-64 (coherent instruction fetch)
// Before it goes it detaches from every thread, stopped or not.
#pragma once

#include "host/ExternalPatcher.h"

namespace hph {

class PtracePatcher : public ExternalPatcher {
 public:
  ~PtracePatcher() override { detach(); }

  // PTRACE_SEIZE every thread of /proc/PID/task, re-reading the list until stable.
  bool takeHold(std::string& error) override;
  bool parkAt(uint64_t pc, uint64_t maxSteps, std::string& error) override;
  void detach() override;

  bool cacheMaintenance(uint64_t, uint64_t, std::string&) override { return true; }
  bool syncAll(std::string& error) override;
  bool suspendAll(std::string& error) override;
  void resumeAll() override;
  std::vector<StoppedThread> stoppedThreads() override;
  bool setPc(const StoppedThread& thread, uint64_t pc, std::string& error) override;
  // On a stopped thread's stack: from its SP to the end of the mapping holding it, read
  // through /proc/PID/mem.
  bool returnAddressInside(uint64_t from, uint64_t size, std::optional<std::string>& found,
                           std::string& error) override;
  // A thread that stopped with a signal while running (its int3 handler's SIGTRAP): let
  // it take the signal and go on.
  void beforeStep() override;

 private:
  struct Tracee {
    pid_t tid = 0;
    bool stopped = false;
    int pendingSignal = 0;  // a signal it stopped with, delivered when it continues
  };
  // PTRACE_SEIZE every thread of /proc/PID/task not seized yet.
  bool seizeNew(std::string& error);
  std::optional<uint64_t> pcOf(const Tracee& t) const;
  std::optional<uint64_t> spOf(const Tracee& t) const;

  std::vector<Tracee> tracees_;
};

}  // namespace hph
