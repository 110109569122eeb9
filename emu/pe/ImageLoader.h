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

// Whether an image holding x64 and Arm64EC code (CHPE code map) may load: only a hybrid
// process (emu/hybrid) runs both kinds; a one-engine machine would run one kind as the other.
enum class HybridImages { kRefused, kAllowed };

// `base` defaults to the image's preferred ImageBase. Loading elsewhere needs relocations.
Result<LoadedImage> loadImage(Machine& machine, const PeImage& image, std::optional<uint64_t> base = std::nullopt,
                              HybridImages hybrid = HybridImages::kRefused);

}  // namespace hph
