// A patch is data: a Plan, an ordered list of Steps. The emulator executes the steps as
// scheduling events between guest instructions; the on-host runner (planned, not built:
// docs/design.md) is to execute the very same steps on a live process, so that what the
// emulator verified is what the host applies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace hph {

// The host writes `bytes` at `address` with one store. `live`: a thread may be fetching
// these bytes at that moment (false for padding nothing jumps into yet); for code stores
// the plan's liveness analysis (patch/LiveCode.h) decides it. `data`: the bytes are read
// as data, never fetched (an address-table slot, a veneer's or literal-swap's literal).
struct StoreStep {
  uint64_t address = 0;
  std::vector<uint8_t> bytes;
  std::string label;  // "bump+0x0": where, as the scenario names it
  bool live = true;
  bool data = false;
};

// Arm64: DC CVAU, DSB ISH, IC IVAU, DSB ISH over a range (the writer's side of making new
// instructions visible). A core whose CTR_EL0.IDC is set needs no DC CVAU, one with DIC no
// IC IVAU; the DSB always stays. x64 needs none.
struct CacheMaintenanceStep {
  uint64_t address = 0;
  uint64_t size = 0;
  std::string label;
  bool cleanData = true;               // DC CVAU + DSB ISH
  bool invalidateInstructions = true;  // IC IVAU + DSB ISH
};

// Every thread context-synchronises (an IPI / FlushProcessWriteBuffers / membarrier).
struct SyncAllStep {
  std::string label;
};

struct SuspendAllStep {};
struct ResumeAllStep {};

// While suspended: a thread whose PC lies on an instruction of [from, from + size)
// continues at the same instruction in `to` (the trampoline holding those instructions).
// A return address strictly inside the span (a call among the displaced instructions)
// cannot be moved: the patcher resumes every thread and retries from the preceding
// suspend-all, at most `retries` times, then gives the plan up (refused).
struct MovePcStep {
  uint64_t from = 0;
  uint64_t size = 0;
  uint64_t to = 0;
  std::vector<std::pair<uint32_t, uint32_t>> boundaries;  // offset in from -> offset in to
  std::string label;
  uint32_t retries = 3;

  bool covers(uint64_t pc) const { return pc >= from && pc < from + size; }
  // Where a thread stopped at `pc` in the span continues: the same instruction in `to`;
  // nullopt when `pc` is not on one of the span's instruction boundaries. Every executor
  // (the emulator's patcher, both host patchers) moves PCs by this one rule.
  std::optional<uint64_t> movedTo(uint64_t pc) const {
    for (const auto& [offset, target] : boundaries)
      if (covers(pc) && pc - from == offset) return to + target;
    return std::nullopt;
  }
};

// A trampoline, stub or old-code buffer about to be reused: the patcher waits until no
// thread's PC lies in it (C7).
struct ReleaseStep {
  uint64_t address = 0;
  uint64_t size = 0;
  std::string label;
};

using Step =
    std::variant<StoreStep, CacheMaintenanceStep, SyncAllStep, SuspendAllStep, ResumeAllStep, MovePcStep, ReleaseStep>;

struct Plan {
  std::vector<Step> steps;
  // One per step: the index (among the sites it was built for) of the site the step
  // patches, so that a step is credited to its own site (vacuity). Empty when not known
  // (a plan read back from JSON, or made by hand).
  std::vector<uint32_t> stepSites;
  bool empty() const { return steps.empty(); }
};

// One line per step, for `hph plan`, traces and golden tests: "store 2 bytes eb f9 at bump+0x0".
std::string describeStep(const Step& step);

}  // namespace hph
