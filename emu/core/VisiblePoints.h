// Which watched instructions need a scheduling point before them (`[explore] points =
// "visible"`). A point lets another actor run first; that matters only before an
// instruction whose effect some other actor's step can observe or change. A register-only
// instruction (Arch::registerOnly) outside every range the plan names (what it stores,
// makes visible, moves PCs out of, waits on) commutes with every other actor's step: a
// preemption before it gives a schedule equivalent to one preempting right after it,
// with the same number of preemptions, so the point is dropped and the instruction runs
// in the transition before it. It keeps its point when it may leave watched code (a
// return, an indirect branch, a branch or fall-through into unwatched code): the
// unwatched code after it runs without points, and a preemption must remain possible
// before it; and when it may enter the plan's ranges (a thread just before a span the
// patcher moves PCs out of is not one inside it).
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "emu/core/Machine.h"
#include "plan/Plan.h"

namespace hph {

class VisiblePoints {
 public:
  VisiblePoints(const Arch& arch, const Plan& plan);

  // Does the instruction at `pc` (`size` bytes, as memory holds it) need a point?
  bool needsPoint(const Machine& machine, uint64_t pc, uint32_t size);

 private:
  bool decide(const Machine& machine, uint64_t pc, std::span<const uint8_t> bytes) const;

  struct Known {
    std::array<uint8_t, 16> bytes{};  // what was judged: code can change under a pc
    uint32_t size = 0;
    bool needsPoint = true;
  };
  const Arch& arch_;
  std::vector<AddressRange> planCode_;  // every range any plan step names
  std::unordered_map<uint64_t, Known> known_;
};

}  // namespace hph
