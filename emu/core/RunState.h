// Everything one schedule changes in the decision loop and shares with the actors it
// drives (the patcher, the stale-fetch and RMW-split components): assigned fresh at the
// start of every run, so no field can leak from one schedule into the next.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "emu/core/Schedule.h"
#include "emu/core/TraceRecorder.h"

namespace hph {

struct RunState {
  DecisionSource* source = nullptr;
  bool wantFootprints = false;
  RunRecord record;
  ActorId current = kNoActor;
  ActorId pending = kNoActor;  // chosen inside the hook, acted on after the engine stops
  uint64_t nextPoint = 0;
  std::vector<ActorId> enabled;
  std::vector<std::optional<uint64_t>> yieldedAt;  // per thread: the point it stopped at
  Footprint transition;                            // of the actor running now
  bool transitionOpen = false;
  // The running thread's transition is an atomic add: no point stops it inside (an Arm64
  // exclusive loop runs as one step) ...
  std::optional<AtomicAdd> atomicAdd;
  // ... and the thread never observes its other results: its accesses to the word are
  // adds, which commute with other threads' adds.
  bool addCommutes = false;
  uint64_t transitionsReported = 0;
  std::vector<ActorId> choices;  // every choice of the run, for re-execution
  bool timedOut = false;
  TraceRecorder trace;

  // Fresh for the next run: every field reset, but the vectors each run fills again keep
  // their memory (a run at 40 calls per thread makes thousands of choices).
  void renew() {
    std::vector<ActorId> keptChoices = std::move(choices), keptEnabled = std::move(enabled);
    Footprint keptTransition = std::move(transition);
    *this = RunState{};
    keptChoices.clear();
    keptEnabled.clear();
    keptTransition.clear();
    choices = std::move(keptChoices);
    enabled = std::move(keptEnabled);
    transition = std::move(keptTransition);
  }

  // Data the running actor touched (8-byte granules), for sleep sets.
  void touch(uint64_t address, uint32_t size, bool write) {
    if (!wantFootprints || size == 0) return;
    if (addCommutes && address == atomicAdd->address && size == 8) {
      transition.adds.push_back(address >> 3);
      return;
    }
    auto& set = write ? transition.writes : transition.reads;
    for (uint64_t g = address >> 3; g <= (address + size - 1) >> 3; ++g) set.push_back(g);
  }
};

}  // namespace hph
