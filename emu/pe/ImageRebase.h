// An image moved to another base as the loader moves it: its base relocations applied to
// the file's own bytes, so that everything downstream (layout, plan, emulator, host runner)
// sees an image whose preferred base is where it actually lies. `hph onhost` uses it when
// the host runner finds the preferred base taken (docs/onhost.md).
#pragma once

#include <cstdint>

#include "emu/pe/PeImage.h"

namespace hph {

// Windows loads images on 64 KiB boundaries.
inline constexpr uint64_t kImageBaseAlignment = 0x10000;

// Adds `delta` to the value one base relocation of `type` fixes at `at`.
void relocateValue(uint8_t* at, uint8_t type, uint64_t delta);

// The image as if linked at `base`: every base relocation applied to the file bytes,
// OptionalHeader.ImageBase and the load config's addresses moved. Bad input (naming the
// field) when the image cannot move: relocations stripped, a base not 64 KiB aligned, or
// a relocation in bytes the file does not hold (a zero-filled tail).
Result<PeImage> rebaseImage(const PeImage& image, uint64_t base);

}  // namespace hph
