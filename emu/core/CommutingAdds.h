// Which atomic adds commute (Arch::atomicAdd, Arch::atomicAddUnobserved): asked before
// every watched instruction a thread runs, so the answers are remembered. Code that is no
// such add is remembered with its bytes; the liveness walk's answer is remembered per
// place and walk registers (stack pointer, link register) with every guest byte it read,
// and holds while they are the same.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "emu/core/Machine.h"

namespace hph {

class CommutingAdds {
 public:
  struct Found {
    AtomicAdd add;
    bool unobserved = false;  // the thread never observes its other results: it commutes
  };
  // The code at pc, about to run on the engine's registers: the atomic add it is, if any.
  // `planStep`: how far the plan is (what `willChange` answers depends on it).
  std::optional<Found> at(const Machine& machine, uint64_t pc, size_t planStep, const CodeChanges& willChange);

 private:
  struct Known {
    std::array<uint8_t, kAtomicAddBytes> bytes{};
    size_t size = 0;  // bytes mapped at pc, up to kAtomicAddBytes
    bool atomicAdd = false;
  };
  struct Answer {
    WalkRegisters registers;
    size_t planStep = 0;
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> read;  // what the walk read
    bool unobserved = false;
  };
  bool stillHolds(const Machine& machine, const Answer& answer) const;

  std::unordered_map<uint64_t, Known> known_;
  std::unordered_map<uint64_t, std::vector<Answer>> answers_;  // by pc
};

}  // namespace hph
