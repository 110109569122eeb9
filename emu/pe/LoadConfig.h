// IMAGE_LOAD_CONFIG_DIRECTORY64 fields the harness uses, read by hand (LIEF 0.9 stops at
// V7), and the CHPE (hybrid) metadata it points at (emu/pe/ChpeMetadata).
#pragma once

#include "emu/pe/PeImage.h"

namespace hph::pe {

Result<void> readLoadConfig(PeImage& image);

}  // namespace hph::pe
