// Runs one schedule: guest threads and the patcher interleaved as a DecisionSource
// chooses at each scheduling point, from the same initial memory every time, so the same
// decisions give the same run bit for bit. This is the decision loop; the patcher's plan
// interpreter (PatcherActor), the Arm64 stale-fetch mechanics (StaleFetch), split x64
// RMWs (RmwSplitter) and the violations it finds itself (RunViolations) are its parts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "emu/core/CommutingAdds.h"
#include "emu/core/PatcherActor.h"
#include "emu/core/Process.h"
#include "emu/core/RmwSplitter.h"
#include "emu/core/RunCheckpoint.h"
#include "emu/core/RunMonitor.h"
#include "emu/core/RunState.h"
#include "emu/core/Schedule.h"
#include "emu/core/StaleFetch.h"
#include "emu/core/VisiblePoints.h"
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
  // The patched sites' entries: a call begins when its thread runs one (the checkers judge
  // whether that was after the plan's last step, C8).
  std::vector<uint64_t> callEntries;
  // Points only before watched instructions some other actor's step can observe
  // (VisiblePoints); else before every watched instruction.
  bool visiblePointsOnly = false;
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
  // Resume runs from checkpoints where the decision source allows (on by default; off,
  // every run re-executes from the start: the reference the tests compare with).
  void setCheckpoints(bool on);
  // Let LOCK adds whose other results are dead commute in footprints (on by default; off,
  // every add conflicts with every access of its word, as a plain write does).
  void setCommutingAdds(bool on) { commuteAdds_ = on; }
  struct CheckpointStats {
    uint64_t taken = 0;
    uint64_t resumed = 0;        // runs that began at a checkpoint
    uint64_t pointsSkipped = 0;  // decisions those runs did not re-execute
  };
  const CheckpointStats& checkpointStats() const { return checkpointStats_; }
  // The property checkers watching every run (nullptr: none).
  void setMonitor(RunMonitor* monitor) { monitor_ = monitor; }

  // ExecutionObserver: each watched instruction is a scheduling point.
  bool beforeInstruction(uint64_t pc, uint32_t size) override;
  void onDataAccess(uint64_t address, uint32_t size, bool write) override { run_.touch(address, size, write); }
  std::optional<uint64_t> onBreakpoint(uint64_t address) override;
  void onShimCall() override;

 private:
  RunRecord runOnce(DecisionSource& source);
  // Closes the running actor's transition and asks the source who runs next.
  ActorId decide(PointKind kind, uint64_t pc);
  // decide() after the transition is closed: a resumed run starts here.
  ActorId chooseNext(PointKind kind, uint64_t pc);
  // Is a checkpoint before the decision about to be made worth taking?
  bool checkpointWanted() const;
  void takeCheckpoint(PointKind kind, uint64_t pc);
  // The latest checkpoint on the source's planned path (the others are dropped).
  const RunCheckpoint* resumable(DecisionSource& source);
  // Puts the run back to the checkpoint and makes its decision: who runs next.
  ActorId resume(const RunCheckpoint& checkpoint);
  // The decision at a point where the engine is stopped (a checkpoint's).
  ActorId decideStopped(PointKind kind, uint64_t pc);
  // Reports the open transition's footprint to the decision source (global: it conflicts
  // with everything) and starts none.
  void closeTransition(bool conflictsWithAll);
  bool enabled(ActorId actor) const;
  void runPatcher();
  void runGuest(ActorId thread, ActorId* next);
  void checkInvariant();
  // Arm64 fetch model: which version of the word at pc the running thread fetches.
  ActorId decideFetch(uint64_t pc, uint32_t size, size_t versions);
  // The fetch-model decision before a watched instruction: who runs next if the thread
  // must stop here (nullopt: it runs on).
  // The atomic add at pc (its first instruction `size` bytes), if any, into run_: whether
  // it runs as one step and whether it commutes with others.
  void atomicAddAt(uint64_t pc, uint32_t size);
  std::optional<ActorId> chooseFetchedVersion(uint64_t pc, uint32_t size);
  // The point after a split RMW: may its write be held back (true: stop the thread)?
  bool splitPoint(uint64_t pc, ActorId* next);
  // A thread about to run lands the write its split RMW held back.
  void landHeldWrite(ActorId thread);

  Machine& machine_;
  Process& process_;
  MemorySnapshot initial_;
  ScheduleSetup setup_;
  RunMonitor* monitor_ = nullptr;
  bool alwaysCount_ = false;  // once a run timed out, count from then on

  RunState run_;  // the run in progress, assigned fresh by every run
  // Along the path of the latest runs, in order (each extends the one before).
  std::vector<RunCheckpoint> checkpoints_;
  bool checkpointsOn_ = true;
  bool checkpointing_ = false;             // this run may take checkpoints
  std::optional<uint64_t> continueAt_;     // resumed before an instruction the checkers saw
  bool checkpointBeforeDecision_ = false;  // the hook stopped the thread to take one
  CheckpointStats checkpointStats_;
  bool commuteAdds_ = true;
  CommutingAdds commutingAdds_;
  PatcherActor patcher_;
  StaleFetch stale_;
  std::optional<VisiblePoints> visible_;  // setup_.visiblePointsOnly
  RmwSplitter rmw_;
};

}  // namespace hph
