// x64 non-locked memory read-modify-writes (`inc [m]`, `add [m], r`, `xadd` without LOCK)
// are a load and a later store on real cores, and another core can come between. Before
// such an instruction runs, what memory held is remembered; at the next watched
// instruction the scheduler may choose another actor before the write lands: memory goes
// back to what the read saw and the write is held for the thread, landing when it next
// runs (or at a suspend-all, when every thread's instruction has completed).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "emu/core/Machine.h"
#include "emu/core/Process.h"
#include "emu/core/Schedule.h"

namespace hph {

class RmwSplitter {
 public:
  // The RMW in flight on a thread: where it writes and what memory held before it ran.
  struct InFlight {
    ActorId thread = kNoActor;
    uint64_t rmwPc = 0;
    uint64_t next = 0;  // the instruction after it, where the split point is
    uint64_t address = 0;
    std::vector<uint8_t> before;
  };
  // An RMW that completed at its split point: what it wrote.
  struct Completed {
    uint64_t rmwPc = 0;
    uint64_t address = 0;
    std::vector<uint8_t> before, after;
  };

  // A new run: nothing in flight or held (the decode cache stays: it is keyed by bytes).
  void reset() {
    inFlight_.reset();
    held_.clear();
  }

  // `thread` is about to run the instruction at pc: remember it if it is a splittable RMW
  // on shared memory whose next instruction is watched (the split point needs a hook).
  void arm(Machine& machine, const Process& process, ActorId thread, uint64_t pc, uint32_t size);
  bool inFlightOn(ActorId thread) const { return inFlight_ && inFlight_->thread == thread; }
  // Nothing in flight or held back: a run can be checkpointed (and resumes with reset()).
  bool idle() const {
    return !inFlight_ && std::none_of(held_.begin(), held_.end(), [](const auto& h) { return h.has_value(); });
  }
  // The thread stopped other than at a point: an RMW in flight landed whole.
  void drop() { inFlight_.reset(); }
  // At the next hook of the thread: the RMW, if it completed at `pc`.
  std::optional<Completed> complete(const Machine& machine, uint64_t pc);
  // Another actor runs first: memory back to what the read saw, the write held for `thread`.
  void hold(const Machine& machine, ActorId thread, Completed rmw);
  // Lands `thread`'s held write, if any: (address, size) written.
  std::optional<std::pair<uint64_t, uint32_t>> land(const Machine& machine, ActorId thread);

 private:
  // Instructions known not to be splittable RMWs, by address, with their bytes (a store to
  // code changes the answer): keeps the decoder off the hot path.
  struct KnownInstruction {
    std::array<uint8_t, 16> bytes{};
    uint32_t size = 0;
    bool splittable = false;
  };
  std::unordered_map<uint64_t, KnownInstruction> known_;
  std::optional<InFlight> inFlight_;
  // Per thread: the write a split RMW holds back (address, bytes computed from its read).
  std::vector<std::optional<std::pair<uint64_t, std::vector<uint8_t>>>> held_;
};

}  // namespace hph
