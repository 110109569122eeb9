// Reading a user's input file whole, with a size limit: only regular files, so a FIFO
// or a device (`replay /dev/zero`) is refused instead of blocking or reading without
// bound, and a directory is named as one instead of reporting a nonsense size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/Result.h"

namespace hph {

// Errors are bad input: "<path>: <problem>" (the path escaped for printing).
Result<std::vector<uint8_t>> readInputFile(const std::string& path, uint64_t maxBytes);
Result<std::string> readInputText(const std::string& path, uint64_t maxBytes);

}  // namespace hph
