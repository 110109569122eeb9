// Names read from an image (sections, exports, imports) are untrusted bytes: they end up
// in one-line messages and in JSON, so anything outside printable ASCII is escaped.
#pragma once

#include <string>
#include <string_view>

namespace hph::pe {

inline std::string printableName(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size());
  for (unsigned char c : raw) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace hph::pe
