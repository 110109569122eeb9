#include "harness/IntegerArgument.h"

#include <charconv>

namespace hph {

std::optional<uint64_t> parseInteger(std::string_view text) {
  bool negative = false;
  if (text.starts_with("-")) { negative = true; text.remove_prefix(1); }
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) { base = 16; text.remove_prefix(2); }
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (negative && value > (uint64_t{1} << 63)) return std::nullopt;
  return negative ? 0 - value : value;
}

}  // namespace hph
