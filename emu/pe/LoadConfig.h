// IMAGE_LOAD_CONFIG_DIRECTORY64 fields the harness uses, and the CHPE (hybrid) metadata
// it points at, read by hand: LIEF 0.9 stops at V7 and does not parse CHPE metadata.
#pragma once

#include "emu/pe/PeImage.h"

namespace hph::pe {

Result<void> readLoadConfig(PeImage& image);

}  // namespace hph::pe
