// What the property checkers (properties/) observe of one run: patch steps as they are
// applied (a store that is not single-copy atomic in atomic pieces), the watched
// instructions threads are about to run, and transient-INT3 continuations. The scheduler
// asks for the first violation after every callback and stops the run there.
#pragma once

#include <any>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "emu/core/Process.h"
#include "emu/core/Schedule.h"
#include "plan/Plan.h"
#include "plan/StoreAtomicity.h"

namespace hph {

class RunMonitor {
 public:
  virtual ~RunMonitor() = default;
  virtual void runStarted(const Machine& machine, const Process& process) = 0;
  // One atomic piece [address, address + bytes.size()) of store step `step`, about to be
  // written (memory still holds the old bytes); `first`/`last`: its place in the store.
  virtual void beforeStore(size_t step, const StoreStep& store, uint64_t address, std::span<const uint8_t> bytes,
                           bool first, bool last) = 0;
  // Any step once it is complete (a store after its last piece).
  virtual void afterStep(size_t step, const Step& what) = 0;
  // A watched instruction `thread` is about to run; `resumed`: the first since the thread
  // was stopped at a scheduling point.
  virtual void beforeInstruction(uint32_t thread, uint64_t pc, bool resumed) = 0;
  // A thread hit an INT3 at `address` and continues at `continuation` (nullopt: it faults).
  virtual void onBreakpoint(uint32_t thread, uint64_t address, std::optional<uint64_t> continuation) = 0;
  virtual void runFinished() = 0;
  virtual std::optional<Violation> violation() const = 0;

  // Arm64 fetch model: the versions of the 4-byte word at `pc` that `thread` may fetch
  // now, newest first (one or none: no choice). The scheduler lets the decision source
  // pick one and reports it back.
  virtual std::vector<uint32_t> fetchableVersions(uint32_t thread, uint64_t pc) { return {}; }
  virtual void fetched(uint32_t thread, uint64_t pc, size_t version) {}
  // The thread context-synchronised (exception entry/return: a shim call; an ISB).
  virtual void contextSynchronized(uint32_t thread) {}

  // Checkpoints (the exhaustive search resumes a run from one instead of re-running the
  // prefix it shares with the run before): what the checkers know of the run so far, and
  // putting that back. Machine and Process are restored by the scheduler.
  virtual std::any saveRun() const = 0;
  virtual void restoreRun(const std::any& saved) = 0;
};

}  // namespace hph
