// Happens-before over the transitions of one run, for dynamic partial-order reduction
// (Flanagan & Godefroid, POPL 2005): each transition gets a vector clock, and appending
// one reports the earlier transitions of other actors it races with — those that
// conflict with it (Footprint::conflictsWith) and are not already ordered before it
// through some other transition. Reversing a race is the only reordering that can change
// what a run does; the search adds backtracking points for exactly those.
//
// Transitions are indexed by the search node they start at. The search backtracks by
// truncating: what the prefix of the run established stays, so each run pays only for
// its new suffix.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "emu/core/Schedule.h"
#include "harness/explore/LatestByKey.h"

namespace hph {

class HappensBefore {
 public:
  // Code is compared in granules of this many bytes (a power of two): Arm64 instructions
  // and every store to them are 4-byte aligned, so its code tables need a quarter of the
  // entries bytes would. Coarser granules only add conflicts, never hide one.
  explicit HappensBefore(uint32_t codeGranule = 1) : codeShift_(static_cast<uint32_t>(__builtin_ctz(codeGranule))) {}
  size_t size() const { return events_.size(); }
  // Forgets transitions [count, size()).
  void truncate(size_t count);
  // Appends transition size() of `actor`; adds to `races` the earlier transitions it
  // races with (at most one per other actor: its latest conflicting one).
  void append(ActorId actor, const Footprint& footprint, std::vector<size_t>& races);
  // Names the Mazurkiewicz trace of the transitions so far: runs that only reorder
  // independent transitions get the same key (each transition, named by its actor and
  // its place among that actor's transitions, with what precedes it).
  uint64_t traceKey() const;

 private:
  // What earlier transitions touched, by address: for each actor, its latest transition
  // that did. Exact up to the granule (code granules, see the constructor; 8-byte
  // granules for data, as Footprint compares them), so the latest entry per actor is that
  // actor's latest conflicting transition.
  enum Table : uint8_t {
    kFetchedCode,
    kStoredCode,
    kStoredGranule,
    kFetchOrderingCode,
    kArrivedCode,
    kPositionsCode,
    kRead,
    kWritten,
    kAdded,
    kGlobal,
    kOrdersPatcher,
    kAny,
    kTables
  };
  struct Undo {
    Table table;
    LatestByKey::Row row;
    uint32_t slot;
    int32_t previous;
  };
  struct Event {
    uint32_t slot = 0;
    uint32_t position = 0;  // 1-based among its actor's transitions
    size_t undoBegin = 0;
  };

  static uint32_t slotOf(ActorId actor) { return actor == kPatcher ? 0 : static_cast<uint32_t>(actor) + 1; }
  void consider(Table table, uint64_t key, uint32_t self);
  void considerSlot(Table table, uint64_t key, uint32_t self, uint32_t slot);
  void record(Table table, uint64_t key, uint32_t slot, int32_t event);
  uint32_t clockAt(int32_t event, uint32_t slot) const;
  // Room for `slots` actors in every clock (rare: a thread was created).
  void widen(uint32_t slots);

  // The code granules a range of bytes touches.
  uint64_t firstGranule(const AddressRange& r) const { return r.begin >> codeShift_; }
  uint64_t endGranule(const AddressRange& r) const {
    return r.end > r.begin ? ((r.end - 1) >> codeShift_) + 1 : firstGranule(r);
  }

  uint32_t codeShift_;
  std::vector<Event> events_;
  // The events' vector clocks, one row of stride_ entries each (by actor slot: how many
  // of its transitions precede or are this one). Flat: a run appends thousands of events.
  std::vector<uint32_t> clocks_;
  uint32_t stride_ = 0;
  std::vector<std::vector<uint32_t>> byActor_;  // by slot: its transitions, in order
  std::array<LatestByKey, kTables> tables_;     // rows stride_ wide
  std::vector<Undo> undo_;
  std::vector<int32_t> candidate_;  // scratch, by slot: latest conflicting transition
};

}  // namespace hph
