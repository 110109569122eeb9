// The Arm64 instructions that the architecture allows to be modified while another
// core may be executing them (Arm ARM B2.2.5, "concurrent modification and execution
// of instructions"): B, BL, BRK, HVC, ISB, NOP, SMC, SVC. A live patch store must turn
// one of these into another one of these.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hph::arm64 {

constexpr uint32_t kNop = 0xD503201F;

// The mnemonic when `word` is in the concurrently-modifiable set, otherwise nullopt.
constexpr std::optional<std::string_view> cmodxClass(uint32_t word) {
  if ((word & 0xFC000000u) == 0x14000000u) return "b";
  if ((word & 0xFC000000u) == 0x94000000u) return "bl";
  if ((word & 0xFFE0001Fu) == 0xD4200000u) return "brk";
  if ((word & 0xFFE0001Fu) == 0xD4000001u) return "svc";
  if ((word & 0xFFE0001Fu) == 0xD4000002u) return "hvc";
  if ((word & 0xFFE0001Fu) == 0xD4000003u) return "smc";
  if ((word & 0xFFFFF0FFu) == 0xD50330DFu) return "isb";
  if (word == kNop) return "nop";
  return std::nullopt;
}

constexpr bool isConcurrentlyModifiable(uint32_t word) { return cmodxClass(word).has_value(); }

}  // namespace hph::arm64
