// Differential execution of a trampoline: from many random machine states (general,
// flag and vector registers; memory pages with random contents, mapped on demand and
// identical on both sides), run the original function from its entry until it leaves the
// displaced span, and patched memory from the trampoline until it leaves the trampoline;
// then compare where they went, every register, and every page either side touched
// (including the stack above SP). Each state also runs from one later instruction
// boundary and its copy (in turn): threads moved into the trampoline, and calls that
// return into it, continue there. The return address at the final SP is compared as a
// pair the trampoline declares (Trampoline::callReturns), not byte for byte. Faults must match in kind and
// address. A state in which the original's loads or stores reach the patched entry or the trampoline through its random
// registers is skipped: those bytes differ by construction.
#pragma once

#include <string>

#include "patch/Trampoline.h"
#include "support/Result.h"

namespace hph {

struct TrampolineCheck {
  bool equivalent = true;
  uint32_t states = 0;  // states run
  // Of those, states not compared in full: in one of their runs (from the entry, from a
  // later boundary) the original's loads or stores reached the patched entry or the
  // trampoline through registers the state supplied.
  uint32_t skipped = 0;
  std::string difference;  // the first one: "state 3: rax 0x1 vs 0x2"
};

Result<TrampolineCheck> checkTrampoline(const Arch& arch, const TrampolineRequest& request,
                                        const Trampoline& trampoline, const std::vector<uint8_t>& patch,
                                        uint32_t states = 64, uint64_t seed = 1);

}  // namespace hph
