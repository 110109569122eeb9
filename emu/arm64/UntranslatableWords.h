// Arm64 words Unicorn 2.0.1 cannot translate: its decoder reaches an assertion, and the
// whole process aborts, for some unallocated FP16 SIMD encodings (QEMU 5's
// disas_simd_three_reg_same_fp16 and disas_simd_two_reg_misc_fp16 check the opcode only
// after dispatching on it). Hardware treats these words as undefined instructions, so an
// engine that stops before translating one (Engine's translation guard) and reports an
// invalid instruction there emulates them exactly.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace hph::arm64 {

// Does translating this word abort Unicorn 2.0.1? Checked against Unicorn itself, in
// child processes, over every opcode, size and form bit of both encoding classes
// (tests/UntranslatableTest.cpp).
bool unicornAbortsTranslating(uint32_t word);

// The addresses of such words in `bytes` (code at `address`; words at 4-byte alignment).
void findUntranslatable(uint64_t address, std::span<const uint8_t> bytes, std::vector<uint64_t>& out);

}  // namespace hph::arm64
