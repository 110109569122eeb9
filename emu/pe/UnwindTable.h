// The exception directory (.pdata) read by hand: LIEF 0.9 misses it, and Arm64 packs
// function lengths into the entries themselves.
#pragma once

#include <vector>

#include "emu/pe/PeImage.h"

namespace hph::pe {

struct UnwindEntry {
  uint32_t begin = 0;     // RVA
  uint32_t end = 0;       // RVA, exclusive
  bool fragment = false;  // a piece of a function (x64 chained info, Arm64 packed fragment)
  bool packed = false;    // Arm64: the length came from the entry itself
};

Result<std::vector<UnwindEntry>> readUnwindTable(const PeImage& image);

}  // namespace hph::pe
