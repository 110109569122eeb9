// Integers and seconds written as text: command-line options, scenario values, function
// names with an offset ("bump+0x4", "rva:0x1020"). The one parser for each; what a caller
// accepts (hex only, "0X" as well as "0x", the width) is a parameter, so every difference
// between two callers can be seen at the call.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace hph {

enum class IntegerDigits {
  kDecimalOrHex,  // "4096" or "0x1000"
  kHex,           // "1000" or "0x1000": hex digits, the prefix optional
};

struct UnsignedSyntax {
  IntegerDigits digits = IntegerDigits::kDecimalOrHex;
  bool upperCasePrefix = true;                          // "0X1000" as well as "0x1000"
  uint64_t max = std::numeric_limits<uint64_t>::max();  // larger is refused, never wrapped
};

// Strictly an unsigned integer: digits only after the optional prefix, no sign, no
// space, nothing after them, nothing above syntax.max (`--seed -1` or 2^64 is refused).
std::optional<uint64_t> parseUnsigned(std::string_view text, const UnsignedSyntax& syntax = {});

// A guest argument (`hph call`): decimal or 0x-hex, and "-N" wraps to two's complement
// so a signed argument can be written naturally (down to -2^63).
std::optional<uint64_t> parseInteger(std::string_view text);

// Strictly a finite, non-negative decimal number of seconds (no nan, inf, sign or exponent).
std::optional<double> parseSeconds(std::string_view text);

}  // namespace hph
