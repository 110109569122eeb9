// How commands report: one line on stderr for an error, exit code from its Status.
#pragma once

#include <cstdio>
#include <string>

#include "emu/core/Result.h"

namespace hph {

inline int reportError(const Error& error) {
  std::fprintf(stderr, "hph: %s\n", error.message.c_str());
  return exitCodeFor(error.status);
}

}  // namespace hph
