// `hph call IMAGE FUNCTION [ARG...] [--json]`: run one function under emulation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "emu/pe/Arm64xRelocations.h"

namespace hph {

struct CallCommandOptions {
  std::string image;
  std::string function;
  std::vector<std::string> arguments;
  bool json = false;
  uint64_t budget = 100'000'000;
  std::optional<std::string> base;  // load address; default the preferred ImageBase
  ImageView view = ImageView::kNative;
};

int runCall(const CallCommandOptions& options);

}  // namespace hph
