// Which LOCK adds commute (Arch::lockedAdd, Arch::lockedAddUnobserved): asked before every
// watched instruction a thread runs, so the answers are remembered. An instruction that is
// no such add is remembered with its bytes; the liveness walk's answer is remembered per
// place and stack pointer with every guest byte it read, and holds while they are the same.
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
  // The instruction at pc (`size` bytes), about to run on the engine's registers: the word
  // it adds to, when it is a LOCK add whose other results the thread never observes.
  // `planStep`: how far the plan is (what `willChange` answers depends on it).
  std::optional<uint64_t> at(const Machine& machine, uint64_t pc, uint32_t size, size_t planStep,
                             const CodeChanges& willChange);

 private:
  struct Known {
    std::array<uint8_t, 16> bytes{};
    uint32_t size = 0;
    bool lockedAdd = false;
  };
  struct Answer {
    uint64_t sp = 0;
    size_t planStep = 0;
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> read;  // what the walk read
    bool unobserved = false;
  };
  bool stillHolds(const Machine& machine, const Answer& answer) const;

  std::unordered_map<uint64_t, Known> known_;
  std::unordered_map<uint64_t, std::vector<Answer>> answers_;  // by pc
};

}  // namespace hph
