#include "emu/arm64/UntranslatableWords.h"

#include <cstring>

namespace hph::arm64 {
namespace {

constexpr uint32_t bit(uint32_t word, int at) { return (word >> at) & 1; }

// Advanced SIMD three same (FP16), vector form: the operation is U:a:opcode. Eight of the
// 32 combinations are unallocated; the decoder asserts on them instead of refusing them.
bool threeSameFp16Aborts(uint32_t word) {
  if ((word & 0x9f60c400) != 0x0e400400) return false;
  const uint32_t op = ((word >> 11) & 7) | bit(word, 23) << 3 | bit(word, 29) << 4;
  switch (op) {
  case 0x05:
  case 0x0b:
  case 0x0c:
  case 0x0d:
  case 0x11:
  case 0x19:
  case 0x1b:
  case 0x1f: return true;
  default: return false;
  }
}

// Advanced SIMD (scalar) two-register miscellaneous (FP16): the operation is U:a:opcode.
bool twoRegMiscFp16Aborts(uint32_t word) {
  if ((word & 0x8f7e0c00) != 0x0e780800) return false;
  const bool scalar = bit(word, 28);
  const bool q = bit(word, 30);
  // Bit 28 set with bit 30 clear is the scalar floating-point space, decoded elsewhere.
  if (scalar && !q) return false;
  const uint32_t op = ((word >> 12) & 0x1f) | bit(word, 23) << 5 | bit(word, 29) << 6;
  switch (op) {
  // Decoded and returned before the form is looked at.
  case 0x1d:
  case 0x5d:
  case 0x2c:
  case 0x2d:
  case 0x2e:
  case 0x6c:
  case 0x6d: return false;
  // Vector-only rounding: the scalar form is refused as unallocated.
  case 0x18:
  case 0x19:
  case 0x38:
  case 0x39:
  case 0x58:
  case 0x59:
  case 0x79: return false;
  // Conversions and estimates: both forms are translated.
  case 0x1a:
  case 0x1b:
  case 0x1c:
  case 0x3a:
  case 0x3b:
  case 0x5a:
  case 0x5b:
  case 0x5c:
  case 0x7a:
  case 0x7b:
  case 0x3d:
  case 0x6f:
  case 0x7d: return false;
  // FRECPX exists only as a scalar; FABS and FSQRT only as vectors here.
  case 0x3f: return !scalar;
  case 0x2f:
  case 0x7f: return scalar;
  default: return true;
  }
}

}  // namespace

bool unicornAbortsTranslating(uint32_t word) { return threeSameFp16Aborts(word) || twoRegMiscFp16Aborts(word); }

void findUntranslatable(uint64_t address, std::span<const uint8_t> bytes, std::vector<uint64_t>& out) {
  const uint64_t skip = (4 - (address & 3)) & 3;
  for (uint64_t at = skip; at + 4 <= bytes.size(); at += 4) {
    uint32_t word = 0;
    std::memcpy(&word, bytes.data() + at, 4);
    if (unicornAbortsTranslating(word)) out.push_back(address + at);
  }
}

}  // namespace hph::arm64
