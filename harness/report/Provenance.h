// Where a verdict comes from: the versions of hph and of the libraries that decide what
// a guest does (Unicorn) and how images are read (LIEF). Every report carries them, and
// replay tokens digest them with the inputs: a token from another build is refused.
#pragma once

#include <string>

namespace hph {

std::string hphVersion();      // "0.2.0"
std::string unicornVersion();  // "2.0.1"
std::string liefVersion();     // "0.9.0"

}  // namespace hph
