// Command-line numbers checked against their documented ranges (scenario/Limits.h)
// before CLI11 converts them: CLI11 alone reads `--seed -1` as 2^64-1 and wraps values
// past the option's width. Each validator rewrites the text as plain decimal, so the
// conversion that follows is exact. Only the command line's front end includes CLI11.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "support/EchoText.h"
#include "support/NumberText.h"

namespace hph {

inline CLI::Validator unsignedIn(uint64_t min, uint64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        const auto value = parseUnsigned(text);
        if (!value || *value < min || *value > max)
          return fmt::format("'{}' is not an integer in {}..{}", echoText(text, 40), min, max);
        text = std::to_string(*value);
        return "";
      },
      fmt::format("INT in {}..{}", min, max));
}

inline CLI::Validator secondsIn(double max) {
  return CLI::Validator(
      [max](std::string& text) -> std::string {
        const auto value = parseSeconds(text);
        if (!value || *value > max)
          return fmt::format("'{}' is not a number of seconds in 0..{}", echoText(text, 40), max);
        text = fmt::format("{}", *value);
        return "";
      },
      fmt::format("SECONDS in 0..{}", max));
}

}  // namespace hph
