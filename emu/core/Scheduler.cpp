#include "emu/core/Scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "plan/StoreAtomicity.h"

namespace hph {
namespace {

// Re-executes a run that timed out in fast mode: the choices it made first, then the
// original source, which sees every call as if the run had never been interrupted.
class ResumingSource final : public DecisionSource {
 public:
  ResumingSource(const std::vector<ActorId>& choices, uint64_t reported, DecisionSource& inner)
      : choices_(choices), toSkip_(reported), inner_(inner) {}
  ActorId choose(const SchedulingPoint& point) override {
    return point.index < choices_.size() ? choices_[point.index] : inner_.choose(point);
  }
  bool wantsFootprints() const override { return inner_.wantsFootprints(); }
  void transitionDone(const Footprint& footprint) override {
    if (toSkip_ > 0) {
      --toSkip_;
      return;
    }
    inner_.transitionDone(footprint);
  }

 private:
  const std::vector<ActorId>& choices_;
  uint64_t toSkip_;
  DecisionSource& inner_;
};

}  // namespace

Scheduler::Scheduler(Machine& machine, Process& process, MemorySnapshot initial,
                     ScheduleSetup setup)
    : machine_(machine), process_(process), initial_(std::move(initial)), setup_(std::move(setup)) {}

Scheduler::~Scheduler() { machine_.setObserver(nullptr); }

bool Scheduler::enabled(ActorId actor) const {
  if (actor == kPatcher)
    return nextStep_ < setup_.plan.steps.size() && !waitingForRelease() && !(retryPending_ && anyThreadRunnable());
  if (actor < 0 || static_cast<size_t>(actor) >= process_.threads().size()) return false;
  return !suspended_ && process_.threads()[actor].state == ThreadState::kRunnable;
}

void Scheduler::closeTransition(bool conflictsWithAll) {
  if (transitionOpen_ && wantFootprints_) {
    transition_.normalize();
    // A transition that did nothing observable yet (chosen, then stopped at once before
    // its first instruction) says nothing about what that actor will do: assume the worst.
    if (conflictsWithAll || (transition_.fetched.empty() && transition_.reads.empty() &&
                             transition_.writes.empty() && transition_.stored.empty()))
      transition_.global = true;
    source_->transitionDone(transition_);
    ++transitionsReported_;
  }
  transition_ = Footprint{};
  transitionOpen_ = false;
}

ActorId Scheduler::decide(PointKind kind, uint64_t pc) {
  closeTransition(false);

  enabled_.clear();
  for (const GuestThread& t : process_.threads())
    if (enabled(static_cast<ActorId>(t.index))) enabled_.push_back(static_cast<ActorId>(t.index));
  if (enabled(kPatcher)) enabled_.push_back(kPatcher);
  if (enabled_.empty()) {
    std::string waits;
    for (const GuestThread& t : process_.threads())
      if (t.state == ThreadState::kBlocked) {
        const GuestThread* target = process_.byHandle(t.waitingFor);
        waits += fmt::format("{}thread {} waits for {}", waits.empty() ? "" : ", ", t.index,
                             target ? actorName(static_cast<ActorId>(target->index)) : "?");
      }
    if (!waits.empty())
      record_.violation = Violation{"deadlock", kNoActor, "every thread is blocked: " + waits, 0, {}};
    return kNoActor;
  }

  SchedulingPoint point;
  point.index = nextPoint_++;
  point.kind = kind;
  point.current = current_;
  point.currentEnabled = enabled(current_);
  point.enabled = enabled_;
  point.pc = pc;
  const ActorId chosen = source_->choose(point);
  if (chosen == kAbandon) return kAbandon;
  choices_.push_back(chosen);
  if (std::find(enabled_.begin(), enabled_.end(), chosen) == enabled_.end()) {
    record_.error = internalError(fmt::format("strategy chose {} at point {}, which cannot run",
                                              actorName(chosen), point.index));
    return kAbandon;
  }
  if (chosen != defaultChoice(point)) record_.decisions.emplace_back(point.index, chosen);
  if (isPreemption(point, chosen)) ++record_.preemptions;
  transition_.actor = chosen;
  transitionOpen_ = true;
  return chosen;
}

bool Scheduler::anyThreadRunnable() const {
  return std::any_of(process_.threads().begin(), process_.threads().end(),
                     [](const GuestThread& t) { return t.state == ThreadState::kRunnable; });
}

bool Scheduler::waitingForRelease() const {
  const auto* release = std::get_if<ReleaseStep>(&setup_.plan.steps[nextStep_]);
  if (!release) return false;
  for (const GuestThread& t : process_.threads()) {
    if (t.state == ThreadState::kFinished) continue;
    const uint64_t pc = process_.pcOf(t.index);
    if (pc >= release->address && pc < release->address + release->size) return true;
    // A call inside a trampoline returns into it.
    if (process_.returnAddressInside(t.index, release->address - 1, release->size + 1)) return true;
  }
  return false;
}

std::optional<std::string> Scheduler::returnAddressInside(uint64_t from, uint64_t size) const {
  for (const GuestThread& t : process_.threads()) {
    const auto found = process_.returnAddressInside(t.index, from, size);
    if (!found) continue;
    const std::string who = actorName(static_cast<ActorId>(t.index));
    if (found->second == 0) return fmt::format("{} has its return address (x30) {:#x} inside the span", who, found->first);
    return fmt::format("{} has a return address {:#x} inside the span on its stack at {:#x}", who, found->first,
                       found->second);
  }
  return std::nullopt;
}

ActorId Scheduler::decideFetch(uint64_t pc, size_t versions) {
  // A fetch choice splits the running thread's transition; both halves conflict with
  // everything (sleep sets do not reason about versions).
  closeTransition(true);
  transition_.actor = current_;
  transition_.global = true;
  transitionOpen_ = true;
  versionIds_.clear();
  for (size_t v = 0; v < versions; ++v) versionIds_.push_back(static_cast<ActorId>(v));
  SchedulingPoint point;
  point.index = nextPoint_++;
  point.kind = PointKind::kFetch;
  point.current = 0;
  point.currentEnabled = true;
  point.enabled = versionIds_;
  point.pc = pc;
  const ActorId chosen = source_->choose(point);
  if (chosen == kAbandon) return kAbandon;
  choices_.push_back(chosen);
  if (chosen < 0 || static_cast<size_t>(chosen) >= versions) {
    record_.error = internalError(fmt::format("strategy chose version {} at point {} of {}", chosen, point.index, versions));
    return kAbandon;
  }
  if (chosen != 0) {
    record_.decisions.emplace_back(point.index, chosen);
    ++record_.preemptions;  // a stale fetch counts against the bound like a preemption
  }
  return chosen;
}

void Scheduler::restoreStale() {
  if (!staleRestore_) return;
  machine_.writeCode(staleRestore_->first, staleRestore_->second);
  staleRestore_.reset();
}

bool Scheduler::beforeInstruction(uint64_t pc, uint32_t size) {
  const auto thread = static_cast<size_t>(current_);
  auto stopHere = [&](ActorId next) {
    pending_ = next;
    yieldedAt_[thread] = pc;
    return true;
  };
  // The stale instruction ran: memory back to the newest bytes, and retranslate.
  if (staleRestore_ && !staleArmed_) {
    restoreStale();
    restartAfterStale_ = true;
    return stopHere(current_);
  }
  // The instruction after a non-locked RMW: the point where its write may be held back.
  bool monitorSaw = false;
  if (rmw_ && rmw_->thread == current_) {
    if (monitor_) {
      monitor_->beforeInstruction(static_cast<uint32_t>(thread), pc, false);
      if (monitorViolated()) return stopHere(kNoActor);
      monitorSaw = true;
    }
    ActorId next = kNoActor;
    if (splitPoint(pc, &next)) return stopHere(next);
  }
  bool resumed = false;
  if (yieldedAt_[thread] == pc) {
    yieldedAt_[thread].reset();
    if (staleArmed_) {  // restarted to run the chosen stale version: everything is decided
      staleArmed_ = false;
      transition_.fetched.push_back({pc, pc + size});
      return false;
    }
    resumed = !restartAfterStale_;
    restartAfterStale_ = false;
  }
  // The checkers see the instruction before the decision (so they know where a thread
  // was stopped) and again when it resumes there.
  if (monitor_ && !monitorSaw) {
    monitor_->beforeInstruction(static_cast<uint32_t>(thread), pc, resumed);
    if (monitorViolated()) return stopHere(kNoActor);
  }
  if (resumed) {
    // A thread resumed at the point where it was stopped: the decision was already made.
    transition_.fetched.push_back({pc, pc + size});
  } else {
    const ActorId chosen = decide(PointKind::kInstruction, pc);
    if (chosen != current_) return stopHere(chosen);
    transition_.fetched.push_back({pc, pc + size});
  }
  armSplit(pc, size);
  if (!monitor_) return false;
  // Arm64 fetch model: a stale version is written for this one instruction, run after
  // a restart (the engine translated the newest bytes already), then put back.
  const std::vector<uint32_t> versions = monitor_->fetchableVersions(static_cast<uint32_t>(thread), pc);
  if (versions.size() < 2) return false;
  const ActorId version = decideFetch(pc, versions.size());
  if (version == kAbandon) return stopHere(kAbandon);
  if (record_.error) return stopHere(kNoActor);
  monitor_->fetched(static_cast<uint32_t>(thread), pc, static_cast<size_t>(version));
  if (version == 0) return false;
  std::vector<uint8_t> newest(4), stale(4);
  machine_.readGuest(pc, newest);
  std::memcpy(stale.data(), &versions[version], 4);
  if (stale == newest) return false;
  machine_.writeCode(pc, stale);
  staleRestore_ = std::make_pair(pc, newest);
  lastStale_ = StaleFetch{current_, pc, machine_.arch().decode(stale, pc).text};
  staleArmed_ = true;
  return stopHere(current_);
}

void Scheduler::armSplit(uint64_t pc, uint32_t size) {
  if (!machine_.arch().hasSplittableAccesses() || size > 16) return;
  std::array<uint8_t, 16> code{};
  if (!machine_.readGuest(pc, std::span(code).first(size))) return;
  const std::span<const uint8_t> bytes = std::span(code).first(size);
  KnownInstruction& known = known_[pc];
  std::optional<SplittableAccess> access;
  if (known.size != size || known.bytes != code) {
    known.bytes = code;
    known.size = size;
    // The split point is the next instruction's hook: without one nothing stops the
    // thread between the RMW and what follows, and the RMW stays indivisible.
    if (machine_.watches(pc + size)) access = machine_.arch().splittableAccess(machine_.engine(), bytes, pc);
    known.splittable = access.has_value();
  } else if (known.splittable) {
    // Known to be one: only its address (from this thread's registers) is new.
    access = machine_.arch().splittableAccess(machine_.engine(), bytes, pc);
  }
  if (!access) return;
  // Thread areas (stacks, TEBs) are not tracked as shared data, so sleep sets could not
  // see a split there conflict: only the images' memory is split.
  for (const GuestThread& t : process_.threads())
    if (process_.ownsAddress(t.index, access->address)) return;
  std::vector<uint8_t> before(access->bytes);
  if (!machine_.readGuest(access->address, before)) return;  // faults as it runs
  rmw_ = RmwInFlight{current_, pc, pc + size, access->address, std::move(before)};
}

bool Scheduler::splitPoint(uint64_t pc, ActorId* next) {
  const RmwInFlight rmw = std::move(*rmw_);
  rmw_.reset();
  if (pc != rmw.next) return false;  // it did not complete here (a fault ends the run)
  std::vector<uint8_t> after(rmw.before.size());
  if (!machine_.readGuest(rmw.address, after)) return false;
  // The RMW read memory and computed its value. Another actor chosen now runs before the
  // write lands: memory goes back to what the read saw, and the thread lands the value
  // from its read when it next runs (what another core may see on real x64).
  const ActorId chosen = decide(PointKind::kSplitWrite, rmw.rmwPc);
  if (chosen == current_) {
    // Indivisible after all: the transition up to the next point is the RMW's own (not an
    // empty one, which would conflict with everything).
    onDataAccess(rmw.address, static_cast<uint32_t>(rmw.before.size()), false);
    onDataAccess(rmw.address, static_cast<uint32_t>(rmw.before.size()), true);
    return false;
  }
  *next = chosen;
  if (chosen == kAbandon || chosen == kNoActor) return true;
  machine_.writeGuest(rmw.address, rmw.before);
  const auto thread = static_cast<size_t>(current_);
  if (heldWrites_.size() <= thread) heldWrites_.resize(thread + 1);
  heldWrites_[thread] = std::make_pair(rmw.address, std::move(after));
  return true;
}

void Scheduler::landHeldWrite(ActorId thread) {
  const auto index = static_cast<size_t>(thread);
  if (index >= heldWrites_.size() || !heldWrites_[index]) return;
  const auto [address, bytes] = std::move(*heldWrites_[index]);
  heldWrites_[index].reset();
  machine_.writeGuest(address, bytes);
  // The write is this transition's: sleep sets must see it conflict.
  onDataAccess(address, static_cast<uint32_t>(bytes.size()), true);
}

void Scheduler::onDataAccess(uint64_t address, uint32_t size, bool write) {
  if (!wantFootprints_ || size == 0) return;
  auto& set = write ? transition_.writes : transition_.reads;
  for (uint64_t g = address >> 3; g <= (address + size - 1) >> 3; ++g) set.push_back(g);
}

std::optional<uint64_t> Scheduler::onBreakpoint(uint64_t address) {
  std::optional<uint64_t> continuation;
  for (const auto& [entry, replacement] : setup_.breakpointRedirects)
    if (entry == address) continuation = replacement;  // the latest patch of a series
  if (monitor_) monitor_->onBreakpoint(static_cast<uint32_t>(current_), address, continuation);
  return continuation;
}

void Scheduler::beginSlice(ActorId actor, uint64_t pc) {
  if (recordTrace_) slice_ = TraceSlice{actor, machine_.instructionsRetired(), 0, pc, ""};
}

void Scheduler::endSlice(std::string what) {
  if (!slice_) return;
  slice_->end = std::max(machine_.instructionsRetired(), slice_->begin + 1);
  slice_->what = std::move(what);
  record_.trace.push_back(std::move(*slice_));
  slice_.reset();
}

bool Scheduler::monitorViolated() {
  if (!monitor_ || record_.violation) return record_.violation.has_value();
  record_.violation = monitor_->violation();
  // The instruction involved, as memory holds it at the moment of the violation.
  if (record_.violation && record_.violation->pc)
    record_.violation->instruction = fmt::format("{}: {}", machine_.describeAddress(record_.violation->pc),
                                                 machine_.disassembleAt(record_.violation->pc));
  return record_.violation.has_value();
}

void Scheduler::applyNextStep() {
  restoreStale();
  const size_t index = nextStep_;
  const Step& step = setup_.plan.steps[index];
  current_ = kPatcher;
  beginSlice(kPatcher, 0);
  if (const auto* store = std::get_if<StoreStep>(&step)) {
    // A live store that is not single-copy atomic lands piece by piece, each piece its
    // own patcher transition: threads can run (and fetch) between them.
    const auto pieces = store->live ? atomicPieces(store->address, store->bytes.size())
                                    : std::vector<std::pair<uint64_t, uint64_t>>{{store->address, store->bytes.size()}};
    const auto [at, size] = pieces[piece_];
    const std::span<const uint8_t> bytes(store->bytes.data() + (at - store->address), size);
    const bool first = piece_ == 0, last = piece_ + 1 == pieces.size();
    if (monitor_) monitor_->beforeStore(index, *store, at, bytes, first, last);
    // A store a rule forbids is not made: the counterexample shows memory before it.
    if (monitorViolated()) {
      endSlice(describeStep(step));
      return;
    }
    if (!machine_.writeCode(at, bytes))
      record_.error = badInput(fmt::format("patch store at {} ({}): address is not mapped", store->label,
                                           machine_.describeAddress(at)));
    transition_.stored.push_back({at, at + size});
    if (!last) {
      ++piece_;
      endSlice(fmt::format("{} (piece {} of {})", describeStep(step), piece_, pieces.size()));
      monitorViolated();
      return;
    }
    piece_ = 0;
    ++nextStep_;
  } else if (std::holds_alternative<SuspendAllStep>(step)) {
    ++nextStep_;
    suspended_ = true;
    // A suspended thread's instruction has completed: a held-back RMW write lands now.
    for (const GuestThread& t : process_.threads()) landHeldWrite(static_cast<ActorId>(t.index));
    transition_.global = true;
  } else if (std::holds_alternative<ResumeAllStep>(step)) {
    ++nextStep_;
    suspended_ = false;
    transition_.global = true;
  } else if (const auto* move = std::get_if<MovePcStep>(&step)) {
    ++nextStep_;
    transition_.global = true;
    // A return address inside the span cannot be moved: let every thread run on and
    // try again from the suspend-all, a bounded number of times.
    if (const auto blocker = returnAddressInside(move->from, move->size)) {
      if (++retries_[index] > move->retries) {
        record_.violation = Violation{"refused", kPatcher,
                                      fmt::format("stop-the-world at {} gave up after {} retries: {}",
                                                  machine_.describeAddress(move->from), move->retries, *blocker),
                                      move->from, {}};
      } else {
        suspended_ = false;
        retryPending_ = true;  // the retry comes after some thread ran on
        while (nextStep_ > 0 && !std::holds_alternative<SuspendAllStep>(setup_.plan.steps[nextStep_ - 1])) --nextStep_;
        if (nextStep_ > 0) --nextStep_;
      }
      endSlice(fmt::format("{}: retry ({})", describeStep(step), *blocker));
      return;
    }
    // Threads stopped inside the overwritten span continue at the same offset in the
    // trampoline; a thread stopped at a scheduling point keeps its decision there.
    for (GuestThread& t : process_.threads()) {
      if (t.state == ThreadState::kFinished) continue;
      const uint64_t pc = process_.pcOf(t.index);
      if (pc < move->from || pc >= move->from + move->size) continue;
      const auto boundary = std::find_if(move->boundaries.begin(), move->boundaries.end(),
                                         [&](const auto& b) { return b.first == pc - move->from; });
      if (boundary == move->boundaries.end()) continue;  // threads stop on boundaries only
      const uint64_t moved = move->to + boundary->second;
      process_.setPc(t.index, moved);
      if (t.index < yieldedAt_.size() && yieldedAt_[t.index] == pc) yieldedAt_[t.index] = moved;
    }
  } else {
    // Cache maintenance, sync-all and release change no memory here; the fetch models
    // (which bytes a thread may still fetch) and the checkers follow them.
    ++nextStep_;
  }
  if (monitor_) monitor_->afterStep(index, step);
  endSlice(describeStep(step));
  monitorViolated();
}

void Scheduler::runGuest(ActorId thread, ActorId* next) {
  current_ = thread;
  retryPending_ = false;
  GuestThread& t = process_.threads()[thread];
  if (yieldedAt_.size() < process_.threads().size()) yieldedAt_.resize(process_.threads().size());
  if (t.instructions >= setup_.threadBudget) {
    record_.violation = Violation{"runaway", thread,
                                  fmt::format("{} ran {} instructions (budget {})",
                                              actorName(thread), t.instructions, setup_.threadBudget),
                                  0, {}};
    *next = kNoActor;
    return;
  }
  beginSlice(thread, 0);
  const size_t threadsBefore = process_.threads().size();
  landHeldWrite(thread);
  const RunStop stop = process_.run(static_cast<uint32_t>(thread), setup_.threadBudget - t.instructions);
  // Stopped other than at a point (returned, faulted, timed out): an RMW in flight landed whole.
  if (stop.kind != StopKind::kYielded) rmw_.reset();
  // A stale version stays in memory only while its thread is about to run it.
  if (!(stop.kind == StopKind::kYielded && staleArmed_ && pending_ == thread)) {
    staleArmed_ = false;
    restoreStale();
  }
  if (process_.threads().size() != threadsBefore) transition_.global = true;  // CreateThread
  if (yieldedAt_.size() < process_.threads().size()) yieldedAt_.resize(process_.threads().size());
  switch (stop.kind) {
    case StopKind::kYielded:
      endSlice(fmt::format("preempted before {}", machine_.describeAddress(*yieldedAt_[thread])));
      *next = pending_;
      return;
    case StopKind::kReturned:
      endSlice(fmt::format("returned {:#x}", process_.threads()[thread].exitCode));
      // Its exit changes what others observe (GetExitCodeThread, waits, deadlocks).
      transition_.global = true;
      *next = decide(PointKind::kSwitch, 0);
      return;
    case StopKind::kBlocked:
      endSlice("blocked in WaitForSingleObject");
      transition_.global = true;
      *next = decide(PointKind::kSwitch, 0);
      return;
    case StopKind::kFault: {
      endSlice("faulted");
      const bool runaway = stop.fault->kind == FaultKind::kBudgetExhausted;
      record_.violation = Violation{runaway ? "runaway" : "fault", thread,
                                    fmt::format("{}: {}", actorName(thread), stop.fault->describe()),
                                    stop.fault->pc, stop.fault};
      // A3: the fault comes from a stale instruction the fetch model let it fetch.
      if (!runaway && lastStale_ && lastStale_->thread == thread && lastStale_->pc == stop.fault->pc) {
        record_.violation = Violation{"A3", thread,
                                      fmt::format("{} fetched a stale '{}' at {} (the new bytes were not yet visible "
                                                  "to it) and faulted: {}",
                                                  actorName(thread), lastStale_->text,
                                                  machine_.describeAddress(lastStale_->pc), stop.fault->describe()),
                                      stop.fault->pc, stop.fault};
        record_.violation->instruction =
            fmt::format("{}: {} (stale)", machine_.describeAddress(lastStale_->pc), lastStale_->text);
      }
      *next = kNoActor;
      return;
    }
    case StopKind::kError:
      endSlice("stopped");
      record_.error = stop.error;
      *next = kNoActor;
      return;
    case StopKind::kTimeout:
      timedOut_ = true;
      *next = kNoActor;
      return;
  }
}

void Scheduler::checkInvariant() {
  if (!setup_.invariantEntry) return;
  // The invariant runs after every thread finished, on the machine's own stack, unobserved.
  machine_.setObserver(nullptr);
  auto outcome = machine_.call(*setup_.invariantEntry, {}, CallOptions{setup_.threadBudget, false});
  if (!outcome) {
    record_.error = outcome.error();
  } else if (outcome->timedOut) {
    timedOut_ = true;
  } else if (outcome->fault) {
    record_.violation = Violation{"invariant", kNoActor,
                                  fmt::format("{}() faulted: {}", setup_.invariantName,
                                              outcome->fault->describe()),
                                  outcome->fault->pc, outcome->fault};
  } else {
    record_.invariantValue = outcome->value;
    if (outcome->value == 0)
      record_.violation = Violation{"invariant", kNoActor,
                                    fmt::format("{}() returned 0 after every thread finished",
                                                setup_.invariantName),
                                    0, {}};
  }
}

RunRecord Scheduler::run(DecisionSource& source, bool recordTrace) {
  recordTrace_ = recordTrace;
  // A traced run is one that gets reported: count, and make fault PCs exact.
  machine_.setInstructionCounting(recordTrace || alwaysCount_);
  machine_.setPrecisePc(recordTrace);
  RunRecord first = runOnce(source);
  if (!timedOut_) return first;
  // Some thread ran long enough that it might have exceeded its budget: only counting
  // can tell. The same choices, then the same source, now counted exactly.
  alwaysCount_ = true;
  machine_.setInstructionCounting(true);
  const std::vector<ActorId> choices = std::move(choices_);
  ResumingSource resume(choices, transitionsReported_, source);
  return runOnce(resume);
}

RunRecord Scheduler::runOnce(DecisionSource& source) {
  machine_.restore(initial_);
  process_.reset();
  record_ = RunRecord{};
  source_ = &source;
  wantFootprints_ = source.wantsFootprints();
  current_ = kNoActor;
  timedOut_ = false;
  choices_.clear();
  transitionsReported_ = 0;
  pending_ = kNoActor;
  nextStep_ = 0;
  nextPoint_ = 0;
  suspended_ = false;
  retries_.clear();
  retryPending_ = false;
  piece_ = 0;
  staleRestore_.reset();
  staleArmed_ = restartAfterStale_ = false;
  lastStale_.reset();
  rmw_.reset();
  heldWrites_.clear();
  yieldedAt_.clear();
  transition_ = Footprint{};
  transitionOpen_ = false;
  slice_.reset();
  machine_.setObserver(this);
  const uint64_t clockAtStart = machine_.instructionsRetired();

  for (const ThreadStart& start : setup_.threads) {
    if (auto spawned = process_.spawn(start.entry, start.argument); !spawned) {
      record_.error = spawned.error();
      return std::move(record_);
    }
  }
  yieldedAt_.resize(process_.threads().size());
  if (monitor_) monitor_->runStarted(machine_, process_);
  ActorId next = decide(PointKind::kStart, 0);
  while (next != kNoActor && next != kAbandon && !record_.error && !record_.violation) {
    if (next == kPatcher) {
      applyNextStep();
      next = decide(PointKind::kSwitch, 0);
    } else {
      runGuest(next, &next);
    }
  }
  machine_.setObserver(nullptr);
  if (monitor_ && next == kNoActor && !record_.error && !record_.violation && !timedOut_) {
    monitor_->runFinished();
    monitorViolated();
  }
  record_.points = nextPoint_;
  record_.abandoned = next == kAbandon && !record_.error;
  record_.instructions = machine_.instructionsRetired() - clockAtStart;
  for (const GuestThread& t : process_.threads()) record_.exitCodes.push_back(t.exitCode);
  if (!record_.abandoned && !record_.error && !record_.violation && !timedOut_) checkInvariant();
  return std::move(record_);
}

}  // namespace hph
