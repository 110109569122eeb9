// Bytes written as hex, both ways: the one formatter and the one parser. What differs
// between callers (spaced or packed output; which separators and whether a "0x" prefix
// the input may hold) is a parameter, visible at the call.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hph {

enum class HexLayout {
  kSpaced,  // "eb f9": what people read (plan steps, violations)
  kPacked,  // "ebf9": JSON fields and digests, one token per byte string
};

// "0x180001020": an address in a message.
std::string hexAddress(uint64_t address);

// Lower-case, two digits a byte; "" for no bytes.
std::string hexBytes(std::span<const uint8_t> bytes, HexLayout layout = HexLayout::kSpaced);

struct HexBytesSyntax {
  std::string_view ignored;  // characters skipped wherever they are (" :_" in a scenario)
  bool prefix = false;       // one optional leading "0x" (lower case), after the skipping
};

// At least one byte: an even number of hex digits of either case, besides what the syntax
// lets through. Anything else (an odd digit, a sign, "0x" where no prefix is allowed) is
// refused.
std::optional<std::vector<uint8_t>> parseHexBytes(std::string_view text, const HexBytesSyntax& syntax);

}  // namespace hph
