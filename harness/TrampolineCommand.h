// `hph trampoline`: build the trampoline that lets a patch call the original, and check it
// by differential execution. On raw bytes (--arch/--hex) or over an image's functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace hph {

struct TrampolineOptions {
  std::optional<std::string> image;
  std::optional<std::string> arch;  // with --hex
  std::optional<std::string> hex;
  std::optional<std::string> address;   // of the --hex function (default 0x140001000)
  std::optional<std::string> function;  // with IMAGE
  bool all = false;                     // with IMAGE
  std::optional<std::string> protocol;
  uint32_t states = 64;
  bool json = false;
};

int runTrampoline(const TrampolineOptions& options);

}  // namespace hph
