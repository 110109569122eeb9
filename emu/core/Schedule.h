// The vocabulary of scheduling: actors, scheduling points, decisions, the footprint of a
// transition, and what one run of a schedule produced.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "emu/core/Exercise.h"
#include "emu/core/GuestFault.h"
#include "emu/core/Machine.h"
#include "plan/Property.h"
#include "support/Result.h"

namespace hph {

// Guest threads are actors 0..n-1; the patcher is one more actor that sorts after them.
using ActorId = int32_t;
inline constexpr ActorId kPatcher = 0x7FFFFFFF;
inline constexpr ActorId kNoActor = -1;
// Returned by a DecisionSource to abandon the run (e.g. every choice is asleep).
inline constexpr ActorId kAbandon = -2;

std::string actorName(ActorId actor);  // "thread 2", "patcher"

enum class PointKind : uint8_t {
  kStart,        // nothing has run yet
  kInstruction,  // before a watched instruction of the running thread
  kSwitch,       // the running actor finished, blocked, or completed a patch step
  kFetch,        // Arm64 fetch model: which version of a word the running thread fetches;
                 // `enabled` holds version indices (0: the newest, the default)
  kSplitWrite,   // x64: the running thread's non-locked memory RMW has read; another actor
                 // chosen here runs before its write lands (pc: the RMW)
};

struct SchedulingPoint {
  uint64_t index = 0;  // ordinal within the run; replay tokens refer to it
  PointKind kind = PointKind::kStart;
  ActorId current = kNoActor;
  bool currentEnabled = false;
  std::span<const ActorId> enabled;  // ascending: threads, then the patcher
  uint64_t pc = 0;                   // kInstruction: the instruction about to run
};

// The rule every strategy, replay and minimisation share: keep running the current actor
// while it can run, otherwise the lowest enabled one. Only choices that differ from it
// are recorded, which keeps replay tokens short.
inline ActorId defaultChoice(const SchedulingPoint& point) {
  return point.currentEnabled ? point.current : point.enabled.front();
}
inline bool isPreemption(const SchedulingPoint& point, ActorId chosen) {
  return point.currentEnabled && chosen != point.current;
}

// What a transition (an actor's execution from one scheduling point to the next) touched.
// Two transitions of different actors commute unless their footprints conflict; the
// exhaustive search's sleep sets rely on that.
struct Footprint {
  ActorId actor = kNoActor;
  std::vector<AddressRange> fetched;  // watched code executed
  std::vector<uint64_t> reads;        // 8-byte granules of tracked (shared) data
  std::vector<uint64_t> writes;
  // Granules an atomic add whose other results are dead changed (Arch::atomicAdd): two such
  // adds commute, though each conflicts with a plain read or write of the word.
  std::vector<uint64_t> adds;
  std::vector<AddressRange> stored;  // patcher stores
  // Code whose fetches a patcher step orders without storing to it: cache maintenance over
  // it and sync-all over every range the plan stores to (which version of it a thread may
  // fetch), and the plan's last step over every site's entry (whether the call a thread
  // begins there began after the plan, C8). It conflicts with fetches there, and only
  // with those.
  std::vector<AddressRange> ordersFetches;
  // Where the transition left its thread (the instruction it stopped before), which the
  // checkers and the patcher's PC moves observe.
  std::vector<AddressRange> arrived;
  // A patcher step that reads or changes where threads are (suspend, PC moves, resume):
  // the code whose fetches and arrivals it depends on (the plan's).
  std::vector<AddressRange> positions;
  bool global = false;  // created, woke or blocked a thread: conflicts with everything
  // Touched nothing tracked: what the actor did commutes with everything, but as the
  // transition a sleep set holds for it, it predicts nothing, so it conflicts with everything.
  bool opaque = false;
  // Conflicts with every patcher transition: the thread returned (what the patcher waits
  // for, a release or a retry, may change), or it started (Arm64 fetch model: which of
  // the plan's stores it may still fetch stale depends on the steps before its start).
  bool ordersPatcher = false;

  void normalize();  // sort and dedupe reads/writes/adds
  void clear();      // empty, keeping the vectors' capacity
  bool conflictsWith(const Footprint& other) const;
};

class DecisionSource {
 public:
  virtual ~DecisionSource() = default;
  // An actor from point.enabled, or kAbandon.
  virtual ActorId choose(const SchedulingPoint& point) = 0;
  // Footprints cost a data hook; only sources that reduce by independence ask for them.
  virtual bool wantsFootprints() const { return false; }
  // The transition that ended at the point about to be chosen. The source may take what
  // it holds, leaving it empty (with spare capacity: the scheduler fills it again).
  virtual void transitionDone(Footprint& footprint) {}

  // Checkpoints (the Scheduler keeps a few along a run): the choices this source will
  // make at points [0, n) whatever happens, so that a run may resume from a checkpoint
  // taken after those same choices instead of re-running them from the start. Empty:
  // every run starts from the start.
  virtual std::span<const ActorId> plannedChoices() { return {}; }
  // How many points past the latest checkpoint one before point `index` must be to be
  // worth taking: a later run of this source will change a choice at or after it. 0: none.
  virtual uint64_t checkpointSpacing(uint64_t index) const { return 0; }
};

struct Violation {
  // A design property (C1-C8, X1-X3, A1-A4), or what the guest or the plan did
  // (invariant, fault, runaway, deadlock, refused): plan/Property.h.
  Property property = Property::kInvariant;
  ActorId actor = kNoActor;
  std::string message;  // one line
  uint64_t pc = 0;
  std::optional<GuestFault> fault;
  std::optional<size_t> step = {};  // the patch step involved (0-based), if any
  std::string bytes = {};           // the bytes involved, hex, if any
  std::string instruction = {};     // "counter.x64.dll+0x1023: add [rax], eax" as memory held it then
};

// One contiguous stretch of an actor's execution, for Chrome traces.
struct TraceSlice {
  ActorId actor = kNoActor;
  uint64_t begin = 0;  // virtual time: instructions retired by the machine
  uint64_t end = 0;
  uint64_t firstPc = 0;
  std::string what;  // why it ended / what the patcher stored
};

struct RunRecord {
  uint64_t points = 0;
  uint32_t preemptions = 0;
  std::vector<std::pair<uint64_t, ActorId>> decisions;  // (point, actor) off the default
  bool abandoned = false;
  std::optional<Violation> violation;
  std::optional<Error> error;  // bad input found while running, or a harness failure
  std::vector<uint64_t> exitCodes;
  uint64_t instructions = 0;
  std::optional<uint64_t> invariantValue;
  std::vector<TraceSlice> trace;
  Exercise exercise;  // vacuity, from the property checkers
};

}  // namespace hph
