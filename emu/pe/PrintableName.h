// Names read from an image (sections, exports, imports) are untrusted bytes: they end up
// in one-line messages and in JSON, so anything outside printable ASCII is escaped.
#pragma once

#include <string>
#include <string_view>

#include "support/EchoText.h"

namespace hph::pe {

inline std::string printableName(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (unsigned char c : raw) {
    if (c >= 0x20 && c < 0x7F && c != '\\')
      out += static_cast<char>(c);
    else
      appendHexEscape(out, c);
  }
  return out;
}

}  // namespace hph::pe
