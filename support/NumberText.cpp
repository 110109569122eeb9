#include "support/NumberText.h"

#include <charconv>
#include <cmath>

namespace hph {

std::optional<uint64_t> parseUnsigned(std::string_view text, const UnsignedSyntax& syntax) {
  int base = syntax.digits == IntegerDigits::kHex ? 16 : 10;
  if (text.starts_with("0x") || (syntax.upperCasePrefix && text.starts_with("0X"))) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return std::nullopt;
  // from_chars takes no sign and no prefix for an unsigned type: what is left is digits.
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size() || value > syntax.max) return std::nullopt;
  return value;
}

std::optional<uint64_t> parseInteger(std::string_view text) {
  const bool negative = text.starts_with("-");
  if (negative) text.remove_prefix(1);
  const auto value = parseUnsigned(text);
  if (!value || (negative && *value > (uint64_t{1} << 63))) return std::nullopt;
  return negative ? 0 - *value : *value;
}

std::optional<double> parseSeconds(std::string_view text) {
  // from_chars would take "nan" and "inf": only digits and one point are seconds.
  if (text.empty() || text.find_first_not_of("0123456789.") != std::string_view::npos) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

}  // namespace hph
