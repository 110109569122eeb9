#include "emu/arm64/ExclusiveAdd.h"

#include <cstring>

namespace hph::arm64 {
namespace {

uint32_t field(uint32_t word, uint32_t low, uint32_t bits) { return (word >> low) & ((1u << bits) - 1); }

// The add: Xs = Xt + (Xm or #imm), or Xt - ...; the amount must not be the loaded value.
// Returns Xs, or 32 when the instruction is no such add.
uint32_t sumRegister(uint32_t w, uint32_t loaded) {
  const uint32_t d = field(w, 0, 5), n = field(w, 5, 5), m = field(w, 16, 5);
  const uint32_t shiftedAdd = w & 0xFF200000;  // 64-bit ADD/SUB (shifted register), no flags
  if (shiftedAdd == 0x8B000000 || shiftedAdd == 0xCB000000) {
    if (field(w, 22, 2) == 3 || d == 31) return 32;  // reserved shift; the sum into xzr
    // The sum may not overwrite the amount: a retry must add the same amount again.
    if (n == loaded && m != loaded) return d == m ? 32 : d;
    // An add takes its operands either way round, when the amount (imm6) is not shifted.
    if (shiftedAdd == 0x8B000000 && m == loaded && n != loaded && field(w, 10, 6) == 0) return d == n ? 32 : d;
    return 32;
  }
  const uint32_t immediateAdd = w & 0xFF800000;  // 64-bit ADD/SUB (immediate), no flags
  if ((immediateAdd == 0x91000000 || immediateAdd == 0xD1000000) && n == loaded && d != 31) return d;
  return 32;
}

}  // namespace

std::optional<ExclusiveAdd> exclusiveAddAt(std::span<const uint8_t> code, uint64_t pc) {
  if (code.size() < kExclusiveAddBytes || pc % 4) return std::nullopt;
  uint32_t w[4];
  std::memcpy(w, code.data(), sizeof w);
  // LDXR / LDAXR, 64-bit.
  if ((w[0] & 0xFFFFFC00) != 0xC85F7C00 && (w[0] & 0xFFFFFC00) != 0xC85FFC00) return std::nullopt;
  const uint32_t loaded = field(w[0], 0, 5), base = field(w[0], 5, 5);
  if (loaded == 31 || loaded == base) return std::nullopt;
  const uint32_t sum = sumRegister(w[1], loaded);
  if (sum == 32 || sum == base) return std::nullopt;
  // STXR / STLXR of the sum to the same word, 64-bit.
  if ((w[2] & 0xFFE0FC00) != 0xC8007C00 && (w[2] & 0xFFE0FC00) != 0xC800FC00) return std::nullopt;
  const uint32_t status = field(w[2], 16, 5);
  if (field(w[2], 0, 5) != sum || field(w[2], 5, 5) != base) return std::nullopt;
  // The status may not be any register the loop reads or the loaded value (a retry
  // would not reload what it needs, or the old value would not be a result).
  const uint32_t amount = field(w[1], 16, 5);
  const bool amountIsRegister = (w[1] & 0x1F000000) == 0x0B000000;
  // Nor x30: the walk follows `ret` through the link register the loop would zero.
  if (status >= 30 || status == base || status == sum || status == loaded || (amountIsRegister && status == amount))
    return std::nullopt;
  if (amountIsRegister && field(w[1], 5, 5) == status) return std::nullopt;
  // CBNZ Ws (or Xs), back to the load.
  if ((w[3] & 0x7F000000) != 0x35000000 || field(w[3], 0, 5) != status || field(w[3], 5, 19) != ((-3u) & 0x7FFFF))
    return std::nullopt;
  return ExclusiveAdd{.base = base, .results = bit(loaded) | bit(sum)};
}

}  // namespace hph::arm64
