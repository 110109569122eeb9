// Command-line numbers: decimal or 0x-hex, 64-bit.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hph {

// A guest argument (`hph call`): "-N" wraps to two's complement so a signed argument
// can be written naturally.
std::optional<uint64_t> parseInteger(std::string_view text);

// Strictly an unsigned integer: decimal or 0x-hex digits only, no sign, no overflow
// (`--seed -1` or a value above 2^64 is refused, not wrapped).
std::optional<uint64_t> parseUnsigned(std::string_view text);

// Strictly a finite, non-negative decimal number of seconds (no nan, inf or sign).
std::optional<double> parseSeconds(std::string_view text);

}  // namespace hph
