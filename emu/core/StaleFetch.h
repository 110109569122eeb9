// Arm64 fetch model, the emulator's side: Unicorn always fetches the newest bytes, so to
// let a thread fetch a stale version of a word the checkers say it may still see, that
// version is written into memory for the one instruction, the thread restarts there (the
// engine retranslates), runs it, and memory is put back before anyone else runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "emu/core/Machine.h"
#include "emu/core/Schedule.h"

namespace hph {

class StaleFetch {
 public:
  // The last stale instruction planted in this run, for A3 when its thread then faults.
  struct Planted {
    ActorId thread = kNoActor;
    uint64_t pc = 0;
    std::string text;  // its disassembly
  };

  struct State {
    std::optional<std::pair<uint64_t, std::vector<uint8_t>>> restore;  // pc, newest bytes
    bool armed = false;         // the thread restarts to run the stale instruction
    bool restartAfter = false;  // the thread restarts after memory was put back
    std::optional<Planted> last;
  };

  void reset() { state_ = State{}; }
  // No stale version in memory and no restart pending: a run can be checkpointed.
  bool idle() const { return !state_.restore && !state_.armed && !state_.restartAfter; }
  const State& state() const { return state_; }
  void resume(const State& state) { state_ = state; }

  // Writes `staleWord` at `pc` for `thread`'s next fetch; false (nothing planted) when the
  // stale version equals the newest bytes.
  bool plant(Machine& machine, ActorId thread, uint64_t pc, uint32_t staleWord);
  // At the hook after the stale instruction ran: memory back to the newest bytes, and the
  // thread restarts so the engine retranslates them (true when that happened).
  bool restoreAfterRun(Machine& machine);
  // The thread restarted at its stopped point to run the planted version: consumed once.
  bool takeArmed();
  // The thread restarted after memory was put back: not a resumption at a decided point.
  bool takeRestart();
  // A thread stopped: the stale version stays only while that thread is about to run it.
  void threadStopped(Machine& machine, bool aboutToRunIt);
  // Puts the newest bytes back, if a stale version is in memory.
  void restore(Machine& machine);
  const std::optional<Planted>& last() const { return state_.last; }

 private:
  State state_;
};

}  // namespace hph
