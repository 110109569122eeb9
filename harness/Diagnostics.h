// How commands report: one line on stderr for an error, exit code from its Status.
#pragma once

#include <cstdio>
#include <string>

#include "support/EchoText.h"
#include "support/Result.h"

namespace hph {

inline int reportError(const Error& error) {
  // One line whatever the message holds (a NUL must not cut it, a newline not split it).
  const std::string line = "hph: " + oneLine(error.message) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  return exitCodeFor(error.status);
}

}  // namespace hph
