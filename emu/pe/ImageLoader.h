// Maps a validated image into a Machine: sections at a chosen base, base relocations
// applied, imports bound to shim stubs.
#pragma once

#include <optional>

#include "emu/core/Machine.h"
#include "emu/pe/PeImage.h"

namespace hph {

struct LoadedImage {
  const PeImage* image = nullptr;
  uint64_t base = 0;
  uint64_t address(uint32_t rva) const { return base + rva; }
};

// `base` defaults to the image's preferred ImageBase. Loading elsewhere needs relocations.
Result<LoadedImage> loadImage(Machine& machine, const PeImage& image, std::optional<uint64_t> base = std::nullopt);

}  // namespace hph
