// Whether an Arm64 thread ever looks at what an instruction sequence left in its
// registers and flags: its code is followed forward from the next instruction (both ways
// at a conditional branch, along direct branches, out through `ret` while x30 still holds
// the return address it held at the start), tracking which general registers and whether
// the flags hold values derived from those results. The results are unobserved when
// every path overwrites them with values not derived from them before they reach
// anything a thread can observe: a memory address, a stored value, a tested flag or
// register (conditional branch), the stack pointer, an indirect branch, or a call while
// an argument, indirect-result, platform or callee-saved register holds one (the Windows
// Arm64 calling convention: x0-x8, x18-x29; a callee reads no other register the caller
// leaves, and calls are not followed: the code there may change, and a host shim is not
// code at all). Anything the walk cannot follow counts as observed: an instruction
// outside arm64/InstructionEffects.h's classes, code a plan step will still store to, a
// `ret` after x30 was written, too long a walk.
//
// The Arm64 half of "Commuting atomic adds" (docs/scenarios.md): the exclusive loop's
// loaded and summed registers are what a thread could tell two orders apart by.
#pragma once

#include <cstdint>

#include "emu/arm64/InstructionEffects.h"
#include "emu/core/Arch.h"

namespace hph::arm64 {

struct Results {
  RegisterMask registers = 0;
  bool flags = false;
};

// Runs the walk from `next` (the instruction after the sequence that produced `results`)
// with `link`, the value x30 holds at `next`.
bool resultsUnobserved(const Results& results, uint64_t next, uint64_t link, const GuestRead& read,
                       const CodeChanges& willChange);

}  // namespace hph::arm64
