// Functions of an image: exports and .pdata entries merged into named ranges.
// Leaf functions have no .pdata (as with MSVC), so their end is estimated by decoding
// forward to the padding that follows them.
#pragma once

#include <vector>

#include "emu/pe/PeImage.h"
#include "emu/pe/UnwindTable.h"

namespace hph::pe {

std::vector<FunctionInfo> buildFunctionTable(const PeImage& image, const std::vector<UnwindEntry>& unwind);

}  // namespace hph::pe
