#include "emu/core/PatcherActor.h"

#include <fmt/format.h>

#include <algorithm>

#include "emu/core/RunViolations.h"
#include "plan/StoreAtomicity.h"

namespace hph {
namespace {

bool anyThreadRunnable(const Process& process) {
  return std::any_of(process.threads().begin(), process.threads().end(),
                     [](const GuestThread& t) { return t.state == ThreadState::kRunnable; });
}

// Which thread holds a return address strictly inside [from, from + size), if any.
std::optional<std::string> returnAddressInside(const Process& process, uint64_t from, uint64_t size) {
  for (const GuestThread& t : process.threads()) {
    const auto found = process.returnAddressInside(t.index, from, size);
    if (!found) continue;
    const std::string who = actorName(static_cast<ActorId>(t.index));
    if (found->second == 0)
      return fmt::format("{} has its return address (x30) {:#x} inside the span", who, found->first);
    return fmt::format("{} has a return address {:#x} inside the span on its stack at {:#x}", who, found->first,
                       found->second);
  }
  return std::nullopt;
}

}  // namespace

PatcherActor::PatcherActor(const Plan& plan, std::span<const uint64_t> callEntries) : plan_(plan) {
  for (const uint64_t entry : callEntries) callEntries_.push_back({entry, entry + 1});
  for (const Step& step : plan_.steps) {
    if (const auto* store = std::get_if<StoreStep>(&step))
      planCode_.push_back({store->address, store->address + store->bytes.size()});
    if (const auto* move = std::get_if<MovePcStep>(&step)) planCode_.push_back({move->from, move->from + move->size});
  }
}

bool PatcherActor::enabled(const Process& process) const {
  return state_.nextStep < plan_.steps.size() && !waitingForRelease(process) &&
         !(state_.retryPending && anyThreadRunnable(process));
}

bool PatcherActor::waitingForRelease(const Process& process) const {
  const auto* release = std::get_if<ReleaseStep>(&plan_.steps[state_.nextStep]);
  if (!release) return false;
  for (const GuestThread& t : process.threads()) {
    if (t.state == ThreadState::kFinished) continue;
    const uint64_t pc = process.pcOf(t.index);
    if (pc >= release->address && pc < release->address + release->size) return true;
    // A call inside a trampoline returns into it.
    if (process.returnAddressInside(t.index, release->address - 1, release->size + 1)) return true;
  }
  return false;
}

PatcherActor::Applied PatcherActor::applyNext(Machine& machine, Process& process, RunMonitor* monitor, RunState& run) {
  const size_t index = state_.nextStep;
  const Step& step = plan_.steps[index];
  run.current = kPatcher;
  run.trace.begin(kPatcher, machine.instructionsRetired(), 0);
  auto endSlice = [&](std::string what) {
    run.trace.end(machine.instructionsRetired(), std::move(what), run.record.trace);
  };
  Applied applied = Applied::kStep;
  if (const auto* store = std::get_if<StoreStep>(&step)) {
    // A live store that is not single-copy atomic lands piece by piece, each piece its
    // own patcher transition: threads can run (and fetch) between them.
    const auto pieces = store->live ? atomicPieces(store->address, store->bytes.size())
                                    : std::vector<std::pair<uint64_t, uint64_t>>{{store->address, store->bytes.size()}};
    const auto [at, size] = pieces[state_.piece];
    const std::span<const uint8_t> bytes(store->bytes.data() + (at - store->address), size);
    const bool first = state_.piece == 0, last = state_.piece + 1 == pieces.size();
    if (monitor) monitor->beforeStore(index, *store, at, bytes, first, last);
    // A store a rule forbids is not made: the counterexample shows memory before it.
    if (takeMonitorViolation(monitor, machine, run.record)) {
      endSlice(describeStep(step));
      return applied;
    }
    if (!machine.writeCode(at, bytes))
      run.record.error = badInput(
          fmt::format("patch store at {} ({}): address is not mapped", store->label, machine.describeAddress(at)));
    run.transition.stored.push_back({at, at + size});
    // A dead store may overwrite only code no thread stands on (C7): where threads stopped
    // is what it is judged by.
    if (!store->live) run.transition.positions.push_back({at, at + size});
    if (!last) {
      ++state_.piece;
      endSlice(fmt::format("{} (piece {} of {})", describeStep(step), state_.piece, pieces.size()));
      takeMonitorViolation(monitor, machine, run.record);
      return applied;
    }
    state_.piece = 0;
    ++state_.nextStep;
  } else if (std::holds_alternative<SuspendAllStep>(step)) {
    // Between suspend and resume only the patcher runs, so the block is one piece of the
    // schedule: what it depends on of the threads is where they are and what they fetch
    // in the plan's code (PC moves, return addresses in the span, the checkers' commit
    // rules), and each of its steps says so.
    ++state_.nextStep;
    state_.suspended = true;
    run.transition.positions = planCode_;
    applied = Applied::kSuspendedAll;
  } else if (std::holds_alternative<ResumeAllStep>(step)) {
    ++state_.nextStep;
    state_.suspended = false;
    run.transition.positions = planCode_;
  } else if (const auto* move = std::get_if<MovePcStep>(&step)) {
    ++state_.nextStep;
    run.transition.positions = planCode_;
    // A return address inside the span cannot be moved: let every thread run on and
    // try again from the suspend-all, a bounded number of times. (When the patcher runs
    // again then depends on every thread: the retry conflicts with everything.)
    if (const auto blocker = returnAddressInside(process, move->from, move->size)) {
      run.transition.global = true;
      if (++state_.retries[index] > move->retries) {
        run.record.violation = gaveUpViolation(machine, move->from, move->retries, *blocker);
      } else {
        state_.suspended = false;
        state_.retryPending = true;  // the retry comes after some thread ran on
        while (state_.nextStep > 0 && !std::holds_alternative<SuspendAllStep>(plan_.steps[state_.nextStep - 1]))
          --state_.nextStep;
        if (state_.nextStep > 0) --state_.nextStep;
      }
      endSlice(fmt::format("{}: retry ({})", describeStep(step), *blocker));
      return applied;
    }
    moveThreadsOut(process, run, *move);
  } else if (const auto* maintenance = std::get_if<CacheMaintenanceStep>(&step)) {
    // Changes no memory here; the fetch model (which bytes a thread may still fetch there)
    // follows it.
    ++state_.nextStep;
    run.transition.ordersFetches.push_back({maintenance->address, maintenance->address + maintenance->size});
  } else if (std::holds_alternative<SyncAllStep>(step)) {
    // Every thread context-synchronises: what matters is which of the plan's stores each
    // fetches afterwards.
    ++state_.nextStep;
    for (const Step& s : plan_.steps)
      if (const auto* store = std::get_if<StoreStep>(&s))
        run.transition.ordersFetches.push_back({store->address, store->address + store->bytes.size()});
  } else {
    // Release waits for threads to leave a range: its enabling depends on where they are.
    ++state_.nextStep;
    run.transition.global = true;
  }
  // The plan's last step decides whether a call began after the plan (C8 judges such a
  // call's code): it orders the fetches of every site's entry, the instruction whose
  // execution begins a call.
  if (state_.nextStep == plan_.steps.size())
    run.transition.ordersFetches.insert(run.transition.ordersFetches.end(), callEntries_.begin(), callEntries_.end());
  if (monitor) monitor->afterStep(index, step);
  endSlice(describeStep(step));
  takeMonitorViolation(monitor, machine, run.record);
  return applied;
}

void PatcherActor::moveThreadsOut(Process& process, RunState& run, const MovePcStep& move) {
  // Threads stopped inside the overwritten span continue at the same offset in the
  // trampoline; a thread stopped at a scheduling point keeps its decision there.
  for (GuestThread& t : process.threads()) {
    if (t.state == ThreadState::kFinished) continue;
    const uint64_t pc = process.pcOf(t.index);
    const std::optional<uint64_t> to = move.movedTo(pc);
    if (!to) continue;  // outside the span; inside it threads stop on boundaries only
    const uint64_t moved = *to;
    process.setPc(t.index, moved);
    if (t.index < run.yieldedAt.size() && run.yieldedAt[t.index] == pc) run.yieldedAt[t.index] = moved;
  }
}

}  // namespace hph
