// The patcher as an actor of the schedule: it interprets the plan one step at a time, each
// step (each atomic piece of a store that is not single-copy atomic) one transition the
// decision loop interleaves with the guest threads'. Suspend-all/resume-all, moving PCs out
// of an overwritten span with bounded retries, and waiting for a release live here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>

#include "emu/core/Machine.h"
#include "emu/core/Process.h"
#include "emu/core/RunMonitor.h"
#include "emu/core/RunState.h"
#include "plan/Plan.h"

namespace hph {

class PatcherActor {
 public:
  // `callEntries`: the patched sites' entries, where a call begins.
  PatcherActor(const Plan& plan, std::span<const uint64_t> callEntries);

  struct State {
    size_t nextStep = 0;
    size_t piece = 0;  // next atomic piece of the store step in progress
    bool suspended = false;
    std::map<size_t, uint32_t> retries;  // move-pc step index -> retries so far
    bool retryPending = false;           // a move-pc retried: some thread runs before the patcher
  };

  void reset() { state_ = State{}; }
  // For checkpoints: where in the plan it is, and going back there.
  const State& state() const { return state_; }
  void resume(const State& state) { state_ = state; }
  // It has a step left, is not waiting for a thread to leave what the step releases, and
  // (after a move-pc retry) some thread ran first.
  bool enabled(const Process& process) const;
  // Between a suspend-all and its resume-all: no thread may run.
  bool suspended() const { return state_.suspended; }
  // A guest thread ran: a pending retry may go ahead.
  void threadRan() { state_.retryPending = false; }

  enum class Applied { kStep, kSuspendedAll };
  // Applies the next step (or the next piece of a store), reporting to the checkers and
  // recording its footprint and trace slice in `run`. kSuspendedAll: the caller lands the
  // writes held back by split RMWs (every thread's instruction has completed).
  Applied applyNext(Machine& machine, Process& process, RunMonitor* monitor, RunState& run);

 private:
  bool waitingForRelease(const Process& process) const;
  void moveThreadsOut(Process& process, RunState& run, const MovePcStep& move);

  const Plan& plan_;
  // The code the plan stores to or moves threads out of: what its steps that read or
  // change where threads are (suspend, PC moves, resume) depend on.
  std::vector<AddressRange> planCode_;
  std::vector<AddressRange> callEntries_;  // the first byte of each site's entry
  State state_;
};

}  // namespace hph
