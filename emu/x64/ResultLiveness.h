// Whether a thread ever looks at what an instruction left in its registers and flags: its
// code is followed forward from the next instruction (both ways at a conditional branch,
// along direct jumps, out through return addresses read from its stack), tracking which
// registers and flags hold values derived from those results. The results are unobserved
// when every path overwrites them with values not derived from them before they reach
// anything a thread can observe: a memory address, a stored value, a tested flag, an
// indirect branch, or a call while an argument or callee-saved register holds one (the
// Win64 calling convention: a callee reads nothing else the caller leaves; calls are not
// followed, since the code there may change and a host shim is not code at all). Anything
// else the walk cannot follow (a system instruction, code a plan step will still store
// to, a return after the walk wrote memory or from below where it began, too long a walk)
// counts as observed.
//
// This is what lets two LOCK adds to one word commute in the exhaustive search
// (docs/scenarios.md, "Commuting atomic adds"): either order leaves memory the same, and
// the old value each returns is dead.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>
#include <span>
#include <vector>

#include "emu/core/Arch.h"

namespace hph::x64 {

// What an instruction leaves behind: registers (any width; compared by their 64-bit
// container) and ZYDIS_CPUFLAG_* flags.
struct Results {
  std::vector<ZydisRegister> registers;
  uint32_t flags = 0;
};

// Runs the walk from `next` (the instruction after the one that produced `results`) with
// the thread's stack pointer `rsp` as it is at `next`.
bool resultsUnobserved(const Results& results, uint64_t next, uint64_t rsp, const GuestRead& read,
                       const CodeChanges& willChange);

// The results the instruction writes: its written registers (but rip, rsp and flags
// registers) and written flags.
Results writtenResults(const ZydisDecodedInstruction& instruction, std::span<const ZydisDecodedOperand> operands);

}  // namespace hph::x64
