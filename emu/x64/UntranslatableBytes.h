// x64 instructions Unicorn 2.0.1 cannot translate: `ff /3` and `ff /5` (far call and far
// jmp through memory) with a register operand, with or without prefixes, end the whole
// process in TCG ("tcg fatal error") instead of raising #UD as hardware does. An engine
// stops before them (Engine's translation guard) and reports an invalid instruction.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace hph::x64 {

// Every address in `bytes` (code at `address`) where an instruction that starts there is
// such an instruction: each `ff` byte whose ModRM has mod 3 and reg 3 or 5, and each
// earlier address from which only prefix bytes (legacy and REX) lead to it. x64 code has
// no fixed boundaries, so this names all of them; none is the start of a valid
// instruction. Checked against Unicorn itself (tests/UntranslatableTest.cpp).
void findUntranslatable(uint64_t address, std::span<const uint8_t> bytes, std::vector<uint64_t>& out);

}  // namespace hph::x64
