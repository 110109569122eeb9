#include "support/HexText.h"

#include <cstdio>

namespace hph {
namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string hexAddress(uint64_t address) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(address));
  return text;
}

std::string hexBytes(std::span<const uint8_t> bytes, HexLayout layout) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (uint8_t b : bytes) {
    if (layout == HexLayout::kSpaced && !out.empty()) out += ' ';
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::optional<std::vector<uint8_t>> parseHexBytes(std::string_view text, const HexBytesSyntax& syntax) {
  std::string digits;
  for (char c : text)
    if (syntax.ignored.find(c) == std::string_view::npos) digits += c;
  std::string_view rest = digits;
  if (syntax.prefix && rest.starts_with("0x")) rest.remove_prefix(2);
  if (rest.empty() || rest.size() % 2) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(rest.size() / 2);
  for (size_t i = 0; i < rest.size(); i += 2) {
    const int high = hexDigit(rest[i]), low = hexDigit(rest[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(high << 4 | low));
  }
  return out;
}

}  // namespace hph
