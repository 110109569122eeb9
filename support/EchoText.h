// Text a user gave (keys, values, paths, tokens) echoed into a one-line message: control
// characters and non-ASCII bytes are escaped, so a NUL cannot cut the line and a newline
// cannot make it two, and anything long is cut (a 1 MB key must not come back in full).
#pragma once

#include <string>
#include <string_view>

namespace hph {

// One byte as \xNN.
inline void appendHexEscape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

inline std::string echoText(std::string_view raw, size_t maxChars = 80) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (out.size() >= maxChars) {
      out += "… (" + std::to_string(raw.size()) + " bytes)";
      break;
    }
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c >= 0x20 && c < 0x7F)
      out += static_cast<char>(c);
    else
      appendHexEscape(out, c);
  }
  return out;
}

// A message made one line: control characters escaped, everything else kept (messages
// hold UTF-8 of their own, like "…"). The last guard before stderr.
inline std::string oneLine(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7F)
      appendHexEscape(out, c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

// Whether text is safe to use as it is (a path to open, a name to print): no control
// characters. A NUL would cut the path the OS sees short of the one the user wrote.
inline bool hasControlCharacter(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7F) return true;
  return false;
}

}  // namespace hph
