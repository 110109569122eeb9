#include "emu/core/Scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "emu/core/ResumingSource.h"
#include "emu/core/RunViolations.h"

namespace hph {
namespace {

// Per Scheduler: each holds the pages of guest memory a run changed.
constexpr size_t kMaxCheckpoints = 64;

}  // namespace

Scheduler::Scheduler(Machine& machine, Process& process, MemorySnapshot initial, ScheduleSetup setup)
    : machine_(machine), process_(process), initial_(std::move(initial)), setup_(std::move(setup)),
      patcher_(setup_.plan, setup_.callEntries) {
  if (setup_.visiblePointsOnly) visible_.emplace(machine_.arch(), setup_.plan);
}

Scheduler::~Scheduler() { machine_.setObserver(nullptr); }

bool Scheduler::enabled(ActorId actor) const {
  if (actor == kPatcher) return patcher_.enabled(process_);
  if (actor < 0 || static_cast<size_t>(actor) >= process_.threads().size()) return false;
  return !patcher_.suspended() && process_.threads()[actor].state == ThreadState::kRunnable;
}

void Scheduler::closeTransition(bool conflictsWithAll) {
  Footprint& transition = run_.transition;
  if (run_.transitionOpen && run_.wantFootprints) {
    transition.normalize();
    // A transition that did nothing observable yet (chosen, then stopped at once before
    // its first instruction) says nothing about what that actor will do next: as a
    // sleeping transition it is opaque. What it did (nothing) still orders nothing.
    const bool touchedNothing = transition.fetched.empty() && transition.reads.empty() && transition.writes.empty() &&
                                transition.adds.empty() && transition.stored.empty() &&
                                transition.ordersFetches.empty() && transition.positions.empty() &&
                                !transition.ordersPatcher;
    // The patcher's steps that store nothing (sync-all, cache maintenance, release, PC
    // moves) are what the checkers judge threads' positions by: they conflict with all.
    if (conflictsWithAll || (touchedNothing && transition.actor == kPatcher)) transition.global = true;
    if (touchedNothing) transition.opaque = true;
    run_.source->transitionDone(transition);
    ++run_.transitionsReported;
  }
  // Cleared, not replaced: the next transition reuses the vectors' memory.
  transition.clear();
  run_.atomicAdd.reset();
  run_.addCommutes = false;
  run_.transitionOpen = false;
}

ActorId Scheduler::decide(PointKind kind, uint64_t pc) {
  closeTransition(false);
  return chooseNext(kind, pc);
}

ActorId Scheduler::chooseNext(PointKind kind, uint64_t pc) {
  run_.enabled.clear();
  for (const GuestThread& t : process_.threads())
    if (enabled(static_cast<ActorId>(t.index))) run_.enabled.push_back(static_cast<ActorId>(t.index));
  if (enabled(kPatcher)) run_.enabled.push_back(kPatcher);
  if (run_.enabled.empty()) {
    if (auto deadlock = deadlockViolation(process_)) run_.record.violation = std::move(deadlock);
    return kNoActor;
  }
  // Between actors nothing is half done; before an instruction, the hook stopped the
  // thread first (beforeInstruction) and the checkpoint is already taken.
  if (kind == PointKind::kSwitch && checkpointWanted()) takeCheckpoint(kind, pc);

  SchedulingPoint point;
  point.index = run_.nextPoint++;
  point.kind = kind;
  point.current = run_.current;
  point.currentEnabled = enabled(run_.current);
  point.enabled = run_.enabled;
  point.pc = pc;
  const ActorId chosen = run_.source->choose(point);
  if (chosen == kAbandon) return kAbandon;
  run_.choices.push_back(chosen);
  if (std::find(run_.enabled.begin(), run_.enabled.end(), chosen) == run_.enabled.end()) {
    run_.record.error =
        internalError(fmt::format("strategy chose {} at point {}, which cannot run", actorName(chosen), point.index));
    return kAbandon;
  }
  if (chosen != defaultChoice(point)) run_.record.decisions.emplace_back(point.index, chosen);
  if (isPreemption(point, chosen)) ++run_.record.preemptions;
  run_.transition.actor = chosen;
  run_.transitionOpen = true;
  return chosen;
}

ActorId Scheduler::decideFetch(uint64_t pc, uint32_t size, size_t versions) {
  // A fetch choice splits the running thread's transition: the first half fetched this
  // instruction, which decides the versions there are to choose from (stores, cache
  // maintenance and sync-all over it conflict with that fetch); the second half runs the
  // chosen version on. The search keeps no sleep set across the choice.
  // The first half is not what the thread does next (the second half is): held in a
  // sleep set it predicts nothing, so it conflicts with everything there.
  run_.transition.opaque = true;
  closeTransition(false);
  run_.transition.actor = run_.current;
  run_.transition.fetched.push_back({pc, pc + size});
  run_.transitionOpen = true;
  std::vector<ActorId> versionIds;
  for (size_t v = 0; v < versions; ++v) versionIds.push_back(static_cast<ActorId>(v));
  SchedulingPoint point;
  point.index = run_.nextPoint++;
  point.kind = PointKind::kFetch;
  point.current = 0;
  point.currentEnabled = true;
  point.enabled = std::move(versionIds);
  point.pc = pc;
  const ActorId chosen = run_.source->choose(point);
  if (chosen == kAbandon) return kAbandon;
  run_.choices.push_back(chosen);
  if (chosen < 0 || static_cast<size_t>(chosen) >= versions) {
    run_.record.error =
        internalError(fmt::format("strategy chose version {} at point {} of {}", chosen, point.index, versions));
    return kAbandon;
  }
  if (chosen != 0) {
    run_.record.decisions.emplace_back(point.index, chosen);
    ++run_.record.preemptions;  // a stale fetch counts against the bound like a preemption
  }
  return chosen;
}

void Scheduler::onShimCall() {
  run_.transition.global = true;
  // A shim is a call into the system: exception entry and return synchronise context.
  if (monitor_ && run_.current >= 0) monitor_->contextSynchronized(static_cast<uint32_t>(run_.current));
}

bool Scheduler::beforeInstruction(uint64_t pc, uint32_t size) {
  const auto thread = static_cast<size_t>(run_.current);
  auto stopHere = [&](ActorId next) {
    run_.pending = next;
    run_.yieldedAt[thread] = pc;
    return true;
  };
  // The stale instruction ran: memory back to the newest bytes, and retranslate.
  if (stale_.restoreAfterRun(machine_)) return stopHere(run_.current);
  // Inside an exclusive loop that runs as one atomic add: no point, but the checkers see
  // every instruction.
  if (run_.atomicAdd && run_.atomicAdd->covers(pc)) {
    if (monitor_) {
      monitor_->beforeInstruction(static_cast<uint32_t>(thread), pc, false);
      if (takeMonitorViolation(monitor_, machine_, run_.record)) return stopHere(kNoActor);
    }
    run_.transition.fetched.push_back({pc, pc + size});
    return false;
  }
  // The instruction after a non-locked RMW: the point where its write may be held back.
  bool monitorSaw = false;
  if (rmw_.inFlightOn(run_.current)) {
    if (monitor_) {
      monitor_->beforeInstruction(static_cast<uint32_t>(thread), pc, false);
      if (takeMonitorViolation(monitor_, machine_, run_.record)) return stopHere(kNoActor);
      monitorSaw = true;
    }
    ActorId next = kNoActor;
    if (splitPoint(pc, &next)) return stopHere(next);
  }
  bool resumed = false;
  if (run_.yieldedAt[thread] == pc) {
    run_.yieldedAt[thread].reset();
    // Decided to run on after a checkpoint: the checkers saw this instruction already.
    if (continueAt_ == pc) monitorSaw = true;
    continueAt_.reset();
    if (stale_.takeArmed()) {  // restarted to run the chosen stale version: everything is decided
      run_.transition.fetched.push_back({pc, pc + size});
      return false;
    }
    resumed = !stale_.takeRestart();
  }
  // The checkers see the instruction before the decision (so they know where a thread
  // was stopped) and again when it resumes there.
  if (monitor_ && !monitorSaw) {
    monitor_->beforeInstruction(static_cast<uint32_t>(thread), pc, resumed);
    if (takeMonitorViolation(monitor_, machine_, run_.record)) return stopHere(kNoActor);
  }
  // No point before an instruction no other actor's step can observe: it runs on in
  // this transition (VisiblePoints), with nothing held back or pending to decide.
  const bool point =
      !resumed && (!visible_ || !rmw_.idle() || !stale_.idle() || visible_->needsPoint(machine_, pc, size));
  if (point) {
    // Where a thread stopped is what suspend, PC moves and resume look at. (What it runs
    // here, and whether a call it begins here began after the plan, the checkers judge
    // when it runs the instruction: by the order of that fetch, not of this arrival.)
    run_.transition.arrived.push_back({pc, pc + size});
    if (checkpointWanted()) {
      // Checkpoints are taken with the engine stopped: the thread stops here as if
      // preempted, and runGuest takes the checkpoint and makes this point's decision.
      closeTransition(false);
      checkpointBeforeDecision_ = true;
      return stopHere(run_.current);
    }
    const ActorId chosen = decide(PointKind::kInstruction, pc);
    if (chosen != run_.current) return stopHere(chosen);
  }
  // A thread resumed at the point where it was stopped (the decision was already made),
  // or running on past an invisible instruction.
  run_.transition.fetched.push_back({pc, pc + size});
  // An ISB: which versions of changed code the thread fetches from here on depends on
  // every patcher step before it, not only on those that touch what it fetches.
  if (machine_.contextSynchronizingAt(pc)) run_.transition.global = true;
  rmw_.arm(machine_, process_, run_.current, pc, size);
  // Every run of a session, whatever its source, runs an exclusive loop as one step: the
  // points of a run (which replay tokens name) must not depend on who chooses.
  if (commuteAdds_ && machine_.watches(pc + size)) atomicAddAt(pc, size);
  if (const auto stopFor = chooseFetchedVersion(pc, size)) return stopHere(*stopFor);
  return false;
}

void Scheduler::atomicAddAt(uint64_t pc, uint32_t size) {
  const size_t step = patcher_.state().nextStep;
  const CodeChanges willChange = [&](uint64_t begin, uint64_t end) {
    for (size_t i = step; i < setup_.plan.steps.size(); ++i)
      if (const auto* store = std::get_if<StoreStep>(&setup_.plan.steps[i]);
          store && store->address < end && begin < store->address + store->bytes.size())
        return true;
    return false;
  };
  const std::optional<CommutingAdds::Found> found = commutingAdds_.at(machine_, pc, step, willChange);
  if (!found) return;
  const AtomicAdd& add = found->add;
  // An exclusive loop runs without a point inside only while no plan step will change its
  // instructions (a failed round fetches the first one again) and each of them has one
  // version to fetch (Arm64 fetch model): then no other actor's step between them can
  // matter.
  if (add.end > pc + size && willChange(pc, add.end)) return;
  if (monitor_)
    for (uint64_t at = pc; at < add.end; at += size)
      if (monitor_->fetchableVersions(static_cast<uint32_t>(run_.current), at).size() > 1) return;
  run_.atomicAdd = add;
  // It commutes as a transition of its own: the instruction after it stops the thread.
  run_.addCommutes = found->unobserved && machine_.watches(add.end);
}

std::optional<ActorId> Scheduler::chooseFetchedVersion(uint64_t pc, uint32_t size) {
  if (!monitor_) return std::nullopt;
  const auto thread = static_cast<uint32_t>(run_.current);
  // Arm64 fetch model: a stale version is written for this one instruction, run after a
  // restart (the engine translated the newest bytes already), then put back.
  const std::vector<uint32_t> versions = monitor_->fetchableVersions(thread, pc);
  if (versions.size() < 2) return std::nullopt;
  const ActorId version = decideFetch(pc, size, versions.size());
  if (version == kAbandon) return kAbandon;
  if (run_.record.error) return kNoActor;
  monitor_->fetched(thread, pc, static_cast<size_t>(version));
  // The thread restarts to fetch the planted stale version.
  if (version != 0 && stale_.plant(machine_, run_.current, pc, versions[version])) return run_.current;
  return std::nullopt;
}

bool Scheduler::splitPoint(uint64_t pc, ActorId* next) {
  std::optional<RmwSplitter::Completed> rmw = rmw_.complete(machine_, pc);
  if (!rmw) return false;
  // The RMW read memory and computed its value. Another actor chosen now runs before the
  // write lands: memory goes back to what the read saw, and the thread lands the value
  // from its read when it next runs (what another core may see on real x64).
  const ActorId chosen = decide(PointKind::kSplitWrite, rmw->rmwPc);
  const auto bytes = static_cast<uint32_t>(rmw->before.size());
  if (chosen == run_.current) {
    // Indivisible after all: the transition up to the next point is the RMW's own (not an
    // empty one, which would conflict with everything).
    run_.touch(rmw->address, bytes, false);
    run_.touch(rmw->address, bytes, true);
    return false;
  }
  *next = chosen;
  if (chosen == kAbandon || chosen == kNoActor) return true;
  rmw_.hold(machine_, run_.current, std::move(*rmw));
  return true;
}

void Scheduler::landHeldWrite(ActorId thread) {
  // The write is this transition's: sleep sets must see it conflict.
  if (const auto landed = rmw_.land(machine_, thread)) run_.touch(landed->first, landed->second, true);
}

std::optional<uint64_t> Scheduler::onBreakpoint(uint64_t address) {
  std::optional<uint64_t> continuation;
  for (const auto& [entry, replacement] : setup_.breakpointRedirects)
    if (entry == address) continuation = replacement;  // the latest patch of a series
  if (monitor_) monitor_->onBreakpoint(static_cast<uint32_t>(run_.current), address, continuation);
  return continuation;
}

void Scheduler::runPatcher() {
  stale_.restore(machine_);
  // A suspended thread's instruction has completed: a held-back RMW write lands now.
  if (patcher_.applyNext(machine_, process_, monitor_, run_) == PatcherActor::Applied::kSuspendedAll)
    for (const GuestThread& t : process_.threads()) landHeldWrite(static_cast<ActorId>(t.index));
}

void Scheduler::runGuest(ActorId thread, ActorId* next) {
  run_.current = thread;
  patcher_.threadRan();
  GuestThread& t = process_.threads()[thread];
  if (run_.yieldedAt.size() < process_.threads().size()) run_.yieldedAt.resize(process_.threads().size());
  if (t.instructions >= setup_.threadBudget) {
    run_.record.violation = runawayViolation(thread, t.instructions, setup_.threadBudget);
    *next = kNoActor;
    return;
  }
  auto endSlice = [&](std::string what) {
    run_.trace.end(machine_.instructionsRetired(), std::move(what), run_.record.trace);
  };
  run_.trace.begin(thread, machine_.instructionsRetired(), 0);
  const size_t threadsBefore = process_.threads().size();
  landHeldWrite(thread);
  // A thread starts context-synchronised (it enters user mode from the kernel): it fetches
  // what the plan made visible before it started. Where fetch may be stale, what it may
  // fetch then depends on which steps came before its start: the start is ordered
  // against the patcher's steps.
  if (!t.started) {
    if (monitor_) monitor_->contextSynchronized(static_cast<uint32_t>(thread));
    if (!machine_.arch().facts().fetchCoherentWithStores) run_.transition.ordersPatcher = true;
  }
  const RunStop stop = process_.run(static_cast<uint32_t>(thread), setup_.threadBudget - t.instructions);
  // Stopped other than at a point (returned, faulted, timed out): an RMW in flight landed whole.
  if (stop.kind != StopKind::kYielded) rmw_.drop();
  stale_.threadStopped(machine_, stop.kind == StopKind::kYielded && run_.pending == thread);
  if (process_.threads().size() != threadsBefore) run_.transition.global = true;  // CreateThread
  if (run_.yieldedAt.size() < process_.threads().size()) run_.yieldedAt.resize(process_.threads().size());
  switch (stop.kind) {
  case StopKind::kYielded:
    endSlice(fmt::format("preempted before {}", machine_.describeAddress(*run_.yieldedAt[thread])));
    if (checkpointBeforeDecision_) {
      checkpointBeforeDecision_ = false;
      const uint64_t pc = *run_.yieldedAt[thread];
      takeCheckpoint(PointKind::kInstruction, pc);
      *next = decideStopped(PointKind::kInstruction, pc);
      return;
    }
    *next = run_.pending;
    return;
  case StopKind::kReturned:
    endSlice(fmt::format("returned {:#x}", process_.threads()[thread].exitCode));
    // Its exit changes what others observe: through shims (GetExitCodeThread, waits),
    // whose transitions conflict with everything, and the patcher's waits for threads.
    run_.transition.ordersPatcher = true;
    *next = decide(PointKind::kSwitch, 0);
    return;
  case StopKind::kBlocked:
    endSlice("blocked in WaitForSingleObject");
    run_.transition.global = true;
    *next = decide(PointKind::kSwitch, 0);
    return;
  case StopKind::kFault: {
    endSlice("faulted");
    const auto& stale = stale_.last();
    // A3: the fault comes from a stale instruction the fetch model let it fetch.
    if (stop.fault->kind != FaultKind::kBudgetExhausted && stale && stale->thread == thread &&
        stale->pc == stop.fault->pc)
      run_.record.violation = staleFetchViolation(machine_, thread, stale->pc, stale->text, *stop.fault);
    else
      run_.record.violation = faultViolation(thread, *stop.fault);
    *next = kNoActor;
    return;
  }
  case StopKind::kError:
    endSlice("stopped");
    run_.record.error = stop.error;
    *next = kNoActor;
    return;
  case StopKind::kTimeout:
    run_.timedOut = true;
    *next = kNoActor;
    return;
  }
}

void Scheduler::checkInvariant() {
  if (!setup_.invariantEntry) return;
  // The invariant runs after every thread finished, unobserved, on the first thread's
  // stack (free now, and put back by every restore anyway: the machine's own 1 MiB stack
  // would cost each schedule a comparison of it).
  machine_.setObserver(nullptr);
  std::optional<uint64_t> stackTop;
  if (!process_.threads().empty()) stackTop = process_.threads().front().stackTop;
  auto outcome =
      machine_.call(*setup_.invariantEntry, {},
                    CallOptions{.instructionBudget = setup_.threadBudget, .precisePc = false, .stackTop = stackTop});
  if (!outcome) {
    run_.record.error = outcome.error();
  } else if (outcome->timedOut) {
    run_.timedOut = true;
  } else if (outcome->fault) {
    run_.record.violation = invariantFaultViolation(setup_.invariantName, *outcome->fault);
  } else {
    run_.record.invariantValue = outcome->value;
    if (outcome->value == 0) run_.record.violation = invariantFalseViolation(setup_.invariantName);
  }
}

RunRecord Scheduler::run(DecisionSource& source, bool recordTrace) {
  // A traced run is one that gets reported: count, and make fault PCs exact.
  machine_.setInstructionCounting(recordTrace || alwaysCount_);
  machine_.setPrecisePc(recordTrace);
  run_.renew();
  run_.trace = TraceRecorder(recordTrace);
  RunRecord first = runOnce(source);
  if (!run_.timedOut) return first;
  // Some thread ran long enough that it might have exceeded its budget: only counting
  // can tell. The same choices, then the same source, now counted exactly.
  alwaysCount_ = true;
  machine_.setInstructionCounting(true);
  const std::vector<ActorId> choices = std::move(run_.choices);
  ResumingSource resume(choices, run_.transitionsReported, source);
  run_ = RunState{};
  run_.trace = TraceRecorder(recordTrace);
  return runOnce(resume);
}

void Scheduler::setCheckpoints(bool on) {
  checkpointsOn_ = on;
  checkpoints_.clear();
}

bool Scheduler::checkpointWanted() const {
  if (!checkpointing_ || checkpoints_.size() >= kMaxCheckpoints) return false;
  const uint64_t spacing = run_.source->checkpointSpacing(run_.nextPoint);
  if (spacing == 0) return false;
  if (!checkpoints_.empty() && run_.nextPoint < checkpoints_.back().point + spacing) return false;
  return rmw_.idle() && stale_.idle();
}

void Scheduler::takeCheckpoint(PointKind kind, uint64_t pc) {
  RunCheckpoint checkpoint{.point = run_.nextPoint, .kind = kind, .pc = pc};
  checkpoint.process = process_.checkpoint();
  if (checkpoint.process.threads.size() != process_.threads().size()) {
    checkpointing_ = false;  // out of memory for contexts: this run keeps what it has
    return;
  }
  checkpoint.memory = machine_.delta(initial_);
  checkpoint.run = run_;
  checkpoint.run.source = nullptr;
  checkpoint.patcher = patcher_.state();
  checkpoint.stale = stale_.state();
  if (monitor_) checkpoint.monitor = monitor_->saveRun();
  checkpoints_.push_back(std::move(checkpoint));
  ++checkpointStats_.taken;
}

const RunCheckpoint* Scheduler::resumable(DecisionSource& source) {
  // Counting runs (traced, or after a timeout) keep exact per-thread budgets: from the start.
  checkpointing_ = checkpointsOn_ && !machine_.countingInstructions();
  if (!checkpointing_) {
    checkpoints_.clear();
    return nullptr;
  }
  // A checkpoint's state follows from the choices before it: it serves a run that will
  // make the same ones.
  const std::span<const ActorId> planned = source.plannedChoices();
  size_t valid = 0;
  for (; valid < checkpoints_.size(); ++valid) {
    const std::vector<ActorId>& choices = checkpoints_[valid].run.choices;
    if (choices.size() > planned.size() || !std::equal(choices.begin(), choices.end(), planned.begin())) break;
  }
  checkpoints_.erase(checkpoints_.begin() + static_cast<ptrdiff_t>(valid), checkpoints_.end());
  return checkpoints_.empty() ? nullptr : &checkpoints_.back();
}

ActorId Scheduler::resume(const RunCheckpoint& checkpoint) {
  machine_.restore(initial_, checkpoint.memory);
  process_.resume(checkpoint.process);
  DecisionSource* source = run_.source;
  TraceRecorder trace = std::move(run_.trace);
  const bool footprints = run_.wantFootprints;
  run_ = checkpoint.run;
  run_.source = source;
  run_.wantFootprints = footprints;
  run_.trace = std::move(trace);
  patcher_.resume(checkpoint.patcher);
  stale_.resume(checkpoint.stale);
  rmw_.reset();
  if (monitor_) monitor_->restoreRun(checkpoint.monitor);
  ++checkpointStats_.resumed;
  checkpointStats_.pointsSkipped += checkpoint.point;
  return decideStopped(checkpoint.kind, checkpoint.pc);
}

ActorId Scheduler::decideStopped(PointKind kind, uint64_t pc) {
  const ActorId chosen = chooseNext(kind, pc);
  // Running on from a stopped instruction is not a resumption the checkers must see.
  if (kind == PointKind::kInstruction && chosen == run_.current) continueAt_ = pc;
  return chosen;
}

RunRecord Scheduler::runOnce(DecisionSource& source) {
  run_.source = &source;
  run_.wantFootprints = source.wantsFootprints();
  continueAt_.reset();
  checkpointBeforeDecision_ = false;
  // Every run's instruction count starts from the initial state's, resumed or not.
  const uint64_t clockAtStart = initial_.instructionsRetired;
  RunRecord& record = run_.record;
  ActorId next = kNoActor;
  if (const RunCheckpoint* checkpoint = resumable(source)) {
    machine_.setObserver(this);
    next = resume(*checkpoint);
  } else {
    machine_.restore(initial_);
    process_.reset();
    patcher_.reset();
    stale_.reset();
    rmw_.reset();
    machine_.setObserver(this);
    for (const ThreadStart& start : setup_.threads) {
      if (auto spawned = process_.spawn(start.entry, start.argument); !spawned) {
        record.error = spawned.error();
        return std::move(record);
      }
    }
    run_.yieldedAt.resize(process_.threads().size());
    if (monitor_) monitor_->runStarted(machine_, process_);
    next = decide(PointKind::kStart, 0);
  }
  while (next != kNoActor && next != kAbandon && !record.error && !record.violation) {
    if (next == kPatcher) {
      runPatcher();
      next = decide(PointKind::kSwitch, 0);
    } else {
      runGuest(next, &next);
    }
  }
  machine_.setObserver(nullptr);
  if (monitor_ && next == kNoActor && !record.error && !record.violation && !run_.timedOut) {
    monitor_->runFinished();
    takeMonitorViolation(monitor_, machine_, record);
  }
  record.points = run_.nextPoint;
  record.abandoned = next == kAbandon && !record.error;
  record.instructions = machine_.instructionsRetired() - clockAtStart;
  for (const GuestThread& t : process_.threads()) record.exitCodes.push_back(t.exitCode);
  if (!record.abandoned && !record.error && !record.violation && !run_.timedOut) checkInvariant();
  return std::move(record);
}

}  // namespace hph
