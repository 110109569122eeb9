// The exception directory (.pdata) read by hand: LIEF 0.9 misses it, and Arm64 packs
// function lengths into the entries themselves.
#pragma once

#include <string_view>
#include <vector>

#include "emu/pe/PeImage.h"

namespace hph::pe {

struct UnwindEntry {
  uint32_t begin = 0;     // RVA
  uint32_t end = 0;       // RVA, exclusive
  bool fragment = false;  // a piece of a function (x64 chained info, Arm64 packed fragment)
  bool packed = false;    // Arm64: the length came from the entry itself
};

// The image's exception directory, in its architecture's format.
Result<std::vector<UnwindEntry>> readUnwindTable(const PeImage& image);

// A RUNTIME_FUNCTION table anywhere in the image (an Arm64EC image keeps its Arm64 one in
// the CHPE metadata's ExtraRFETable); errors name `table`.
Result<std::vector<UnwindEntry>> readRuntimeFunctions(const PeImage& image, uint32_t rva, uint32_t size,
                                                      RuntimeFunctionFormat format, std::string_view table);

}  // namespace hph::pe
