// Arm64's atomic add: an exclusive loop of four instructions, as compilers emit it for
// __atomic_add_fetch / fetch_add without LSE (counter.c's bump):
//
//   loop: ldxr|ldaxr  Xt, [Xn]
//         add|sub     Xs, Xt, Xm | #imm
//         stxr|stlxr  Ws, Xs, [Xn]
//         cbnz        Ws, loop
//
// The scheduler runs such a loop as one transition (docs/scenarios.md, "Commuting atomic
// adds"): any other actor's step between the load and the store that succeeds could as
// well have run before the load (a store to the word makes the store-exclusive fail and
// the loop go round, leaving nothing of that round), so the loop adds Xm or #imm to the
// word at once. What it leaves a thread: Xt (the old value) and Xs (the new one); Ws is 0
// whenever the loop is left.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "emu/arm64/InstructionEffects.h"

namespace hph::arm64 {

inline constexpr uint32_t kExclusiveAddBytes = 16;

struct ExclusiveAdd {
  uint32_t base = 0;  // Xn (31: SP)
  RegisterMask results = 0;
};

// The loop at the start of `code` (at least kExclusiveAddBytes, at `pc`), or nullopt.
std::optional<ExclusiveAdd> exclusiveAddAt(std::span<const uint8_t> code, uint64_t pc);

}  // namespace hph::arm64
