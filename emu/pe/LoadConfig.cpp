#include "emu/pe/LoadConfig.h"

#include <fmt/format.h>

#include "emu/pe/Arm64xRelocations.h"
#include "emu/pe/ByteReader.h"
#include "emu/pe/ChpeMetadata.h"
#include "emu/pe/FieldError.h"
#include "emu/pe/PeFormat.h"

namespace hph::pe {
namespace {

// Sizes outside this window are not any version of the structure.
constexpr uint32_t kMinLoadConfigSize = 0x40;
constexpr uint32_t kMaxLoadConfigSize = 0x1000;

template <class T> std::optional<T> readAt(const PeImage& image, uint32_t rva) {
  auto offset = image.fileOffset(rva, sizeof(T));
  return offset ? ByteReader(image.file).read<T>(*offset) : std::nullopt;
}

}  // namespace

Result<void> readLoadConfig(PeImage& image) {
  const DataDirectory dir = image.directories[kLoadConfigDirectory];
  if (!dir.rva || !dir.size) return {};
  LoadConfigInfo info;
  info.rva = dir.rva;
  // The directory may end 1-3 bytes into a section's raw data: then not even its Size
  // field is there to read.
  const auto size = readAt<uint32_t>(image, dir.rva);
  if (!size)
    return fieldError(
        image, "load config.Size",
        fmt::format("the directory at RVA 0x{:x} does not hold its 4-byte Size inside a section's raw data", dir.rva));
  info.size = *size;
  if (info.size < kMinLoadConfigSize || info.size > kMaxLoadConfigSize)
    return fieldError(image, "load config.Size",
                      fmt::format("0x{:x} is not a load-config size (0x{:x}..0x{:x})", info.size, kMinLoadConfigSize,
                                  kMaxLoadConfigSize));
  // Fields past the structure's own Size are absent (older versions), not garbage.
  auto field = [&](uint32_t offset, uint32_t width) {
    return offset + width <= info.size && image.fileOffset(dir.rva + offset, width);
  };
  if (field(loadcfg::kSecurityCookie, 8))
    info.securityCookie = *readAt<uint64_t>(image, dir.rva + loadcfg::kSecurityCookie);
  if (field(loadcfg::kChpeMetadataPointer, 8))
    info.chpeMetadataPointer = *readAt<uint64_t>(image, dir.rva + loadcfg::kChpeMetadataPointer);
  if (field(loadcfg::kHotPatchTableOffset, 4))
    info.hotPatchTableOffset = *readAt<uint32_t>(image, dir.rva + loadcfg::kHotPatchTableOffset);
  if (info.hotPatchTableOffset >= image.sizeOfImage)
    return fieldError(image, "load config.HotPatchTableOffset",
                      fmt::format("0x{:x} lies outside the image", info.hotPatchTableOffset));
  image.loadConfig = info;
  if (auto r = readArm64xRelocations(image); !r) return r.error();
  // An ARM64X image's CHPE metadata describes its Arm64EC view, whose fixups also change
  // it (the extra exception table is the other view's): it is read in that view.
  if (image.isArm64x) return {};
  if (!info.chpeMetadataPointer) return {};
  auto chpe = readChpeMetadata(image, info.chpeMetadataPointer);
  if (!chpe) return chpe.error();
  image.chpe = std::move(chpe).value();
  return {};
}

}  // namespace hph::pe
