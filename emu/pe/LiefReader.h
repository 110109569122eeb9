// The part of parsing delegated to LIEF: exports, imports and base relocations.
// Only called on images that passed our validator.
#pragma once

#include "emu/pe/PeImage.h"

namespace hph::pe {

Result<void> readWithLief(PeImage& image);

}  // namespace hph::pe
