// Runs one schedule: guest threads and the patcher interleaved as a DecisionSource
// chooses at each scheduling point, from the same initial memory every time, so the same
// decisions give the same run bit for bit.
#pragma once

#include <array>
#include <map>
#include <unordered_map>
#include <optional>
#include <string>
#include <vector>

#include "emu/core/Process.h"
#include "emu/core/RunMonitor.h"
#include "emu/core/Schedule.h"
#include "plan/Plan.h"

namespace hph {

struct ThreadStart {
  uint64_t entry = 0;
  uint64_t argument = 0;
};

struct ScheduleSetup {
  std::vector<ThreadStart> threads;
  Plan plan;
  uint64_t threadBudget = 10'000'000;  // per thread: more is a runaway guest
  std::optional<uint64_t> invariantEntry;
  std::string invariantName;
  // int3-3step: a thread at a transient int3 on one of these entries continues in its
  // replacement (the new semantics).
  std::vector<std::pair<uint64_t, uint64_t>> breakpointRedirects;
};

class Scheduler final : public ExecutionObserver {
 public:
  // `initial` is the memory every run starts from (images loaded, nothing run).
  Scheduler(Machine& machine, Process& process, MemorySnapshot initial, ScheduleSetup setup);
  ~Scheduler() override;

  // Runs in fast mode unless a trace is wanted; a fast run that outlives its wall-time
  // bound is run again with exact counting, following the same decisions.
  RunRecord run(DecisionSource& source, bool recordTrace = false);

  const ScheduleSetup& setup() const { return setup_; }
  // The property checkers watching every run (nullptr: none).
  void setMonitor(RunMonitor* monitor) { monitor_ = monitor; }

  // ExecutionObserver: each watched instruction is a scheduling point.
  bool beforeInstruction(uint64_t pc, uint32_t size) override;
  void onDataAccess(uint64_t address, uint32_t size, bool write) override;
  std::optional<uint64_t> onBreakpoint(uint64_t address) override;
  void onShimCall() override {
    transition_.global = true;
    // A shim is a call into the system: exception entry and return synchronise context.
    if (monitor_ && current_ >= 0) monitor_->contextSynchronized(static_cast<uint32_t>(current_));
  }

 private:
  RunRecord runOnce(DecisionSource& source);
  ActorId decide(PointKind kind, uint64_t pc);
  // Reports the open transition's footprint to the decision source (global: it conflicts
  // with everything) and starts none.
  void closeTransition(bool conflictsWithAll);
  bool enabled(ActorId actor) const;
  void applyNextStep();
  void runGuest(ActorId thread, ActorId* next);
  void beginSlice(ActorId actor, uint64_t pc);
  void endSlice(std::string what);
  void checkInvariant();
  // Takes the monitor's first violation into the record (true when there is one).
  bool monitorViolated();
  // Arm64 fetch model: which version of the word at pc the running thread fetches.
  ActorId decideFetch(uint64_t pc, size_t versions);
  void restoreStale();
  // x64 non-locked memory RMW: before it runs, remember what memory held; after it ran,
  // the point where its write may be held back (true: stop the thread here).
  void armSplit(uint64_t pc, uint32_t size);
  bool splitPoint(uint64_t pc, ActorId* next);
  // A thread about to run lands the write its split RMW held back.
  void landHeldWrite(ActorId thread);
  // The next step is a release and some thread's PC is still in what it releases.
  bool waitingForRelease() const;
  bool anyThreadRunnable() const;
  // Which thread holds a return address strictly inside [from, from + size), if any.
  std::optional<std::string> returnAddressInside(uint64_t from, uint64_t size) const;

  Machine& machine_;
  Process& process_;
  MemorySnapshot initial_;
  ScheduleSetup setup_;

  // State of the run in progress.
  DecisionSource* source_ = nullptr;
  RunRecord record_;
  bool wantFootprints_ = false;
  bool recordTrace_ = false;
  ActorId current_ = kNoActor;
  ActorId pending_ = kNoActor;   // chosen inside the hook, acted on after the engine stops
  size_t nextStep_ = 0;
  uint64_t nextPoint_ = 0;
  std::vector<ActorId> enabled_;
  std::vector<std::optional<uint64_t>> yieldedAt_;  // per thread: the point it stopped at
  Footprint transition_;
  bool transitionOpen_ = false;
  std::optional<TraceSlice> slice_;
  bool timedOut_ = false;
  bool suspended_ = false;           // between a plan's suspend-all and resume-all
  std::vector<ActorId> choices_;     // every choice of the run, for re-execution
  std::map<size_t, uint32_t> retries_;  // move-pc step index -> retries so far
  bool retryPending_ = false;           // a move-pc retried: some thread runs before the patcher
  size_t piece_ = 0;                    // next atomic piece of the store step in progress
  RunMonitor* monitor_ = nullptr;
  // A stale version written for one instruction of one thread: what to put back after it.
  std::optional<std::pair<uint64_t, std::vector<uint8_t>>> staleRestore_;
  bool staleArmed_ = false;          // the thread restarts to run the stale instruction
  bool restartAfterStale_ = false;   // the thread restarts after memory was put back
  struct StaleFetch {
    ActorId thread = kNoActor;
    uint64_t pc = 0;
    std::string text;
  };
  std::optional<StaleFetch> lastStale_;
  std::vector<ActorId> versionIds_;
  // The RMW in flight on the running thread: where it writes and what memory held before.
  struct RmwInFlight {
    ActorId thread = kNoActor;
    uint64_t rmwPc = 0;
    uint64_t next = 0;  // the instruction after it, where the split point is
    uint64_t address = 0;
    std::vector<uint8_t> before;
  };
  std::optional<RmwInFlight> rmw_;
  // Instructions known not to be splittable RMWs, by address, with their bytes (a store
  // to code changes the answer): keeps the decoder off the hot path.
  struct KnownInstruction {
    std::array<uint8_t, 16> bytes{};
    uint32_t size = 0;
    bool splittable = false;
  };
  std::unordered_map<uint64_t, KnownInstruction> known_;
  // Per thread: the write a split RMW holds back (address, bytes computed from its read).
  std::vector<std::optional<std::pair<uint64_t, std::vector<uint8_t>>>> heldWrites_;
  uint64_t transitionsReported_ = 0;
  bool alwaysCount_ = false;         // once a run timed out, count from then on
};

}  // namespace hph
