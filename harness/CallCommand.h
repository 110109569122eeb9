// `hph call IMAGE FUNCTION [ARG...] [--json]`: run one function under emulation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hph {

struct CallCommandOptions {
  std::string image;
  std::string function;
  std::vector<std::string> arguments;
  bool json = false;
  uint64_t budget = 100'000'000;
  std::optional<std::string> base;  // load address; default the preferred ImageBase
};

int runCall(const CallCommandOptions& options);

}  // namespace hph
