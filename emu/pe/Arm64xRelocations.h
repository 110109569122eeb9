// ARM64X images: one file holding a native Arm64 view and an Arm64EC view. The file is
// the native view; the loader of an x64 (emulated) process applies the image's ARM64X
// dynamic value relocations, which rewrite the header's machine to x64 and swap in the
// Arm64EC view's export table, exception table, load config and CHPE metadata fields.
// Read by hand: LIEF 0.9 does not parse the dynamic value relocation table (DVRT) the
// load config points at (DynamicValueRelocTableOffset/Section), nor does it know ARM64X.
#pragma once

#include <cstdint>
#include <vector>

#include "emu/pe/PeImage.h"

namespace hph::pe {

// The ARM64X fixups of a native Arm64 image, into image.arm64x; none for other images.
// A malformed table is bad input naming the field.
Result<void> readArm64xRelocations(PeImage& image);

// The Arm64EC view of an ARM64X image: its fixups applied, parsed as an image of its own.
Result<PeImage> arm64ecView(const PeImage& image);

}  // namespace hph::pe

namespace hph {

// Which view of an image to work on: the file as it is (an ARM64X image's native Arm64
// view), or the Arm64EC view an x64 process's loader makes of an ARM64X image.
enum class ImageView : uint8_t { kNative, kArm64ec };

// readPeImage, then the view asked for; `option` names the command-line option that asked
// (an image that is not ARM64X has no Arm64EC view: bad input naming it).
Result<PeImage> readPeImageView(const std::string& path, ImageView view, std::string_view option);

}  // namespace hph
