#include "emu/pe/ImageRebase.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "emu/pe/PeFormat.h"

namespace hph {
namespace {

uint32_t relocationWidth(uint8_t type) { return type == pe::kRelDir64 ? 8 : type == pe::kRelHighLow ? 4 : 0; }

// Where OptionalHeader.ImageBase (PE32+) sits in the file: after the signature, the
// file header and the optional header's first 24 bytes.
constexpr uint32_t kImageBaseOffsetFromPe = 4 + 20 + 24;

}  // namespace

void relocateValue(uint8_t* at, uint8_t type, uint64_t delta) {
  if (type == pe::kRelDir64) {
    uint64_t value;
    std::memcpy(&value, at, 8);
    value += delta;
    std::memcpy(at, &value, 8);
  } else if (type == pe::kRelHighLow) {
    uint32_t value;
    std::memcpy(&value, at, 4);
    value += static_cast<uint32_t>(delta);
    std::memcpy(at, &value, 4);
  }
}

Result<PeImage> rebaseImage(const PeImage& image, uint64_t base) {
  if (base % kImageBaseAlignment)
    return badInput(fmt::format("{}: load base 0x{:x} is not 64 KiB aligned", image.path, base));
  PeImage moved = image;
  if (base == image.imageBase) return moved;
  if (image.characteristics & pe::kFileRelocsStripped)
    return badInput(fmt::format("{}: FileHeader.Characteristics: IMAGE_FILE_RELOCS_STRIPPED is set, so it "
                                "cannot move to 0x{:x} (only its preferred base 0x{:x} will do)",
                                image.path, base, image.imageBase));
  // A file whose sections share raw bytes (with each other or the headers) would see one
  // fix land in two places, where the loader's copies keep them apart.
  std::vector<std::pair<uint64_t, uint64_t>> raw{{0, image.sizeOfHeaders}};
  for (const SectionInfo& s : image.sections)
    if (s.rawSize) raw.emplace_back(s.rawOffset, uint64_t{s.rawOffset} + s.rawSize);
  std::sort(raw.begin(), raw.end());
  for (size_t i = 1; i < raw.size(); ++i)
    if (raw[i].first < raw[i - 1].second)
      return badInput(fmt::format("{}: section headers: raw data at file offset 0x{:x} is shared with other bytes "
                                  "of the file, so the image cannot move to 0x{:x}",
                                  image.path, raw[i].first, base));
  const uint64_t delta = base - image.imageBase;
  for (const BaseRelocation& reloc : image.relocations) {
    const uint32_t width = relocationWidth(reloc.type);
    if (!width) continue;
    const auto offset = image.fileOffset(reloc.rva, width);
    if (!offset)
      return badInput(fmt::format("{}: basereloc: the relocation at RVA 0x{:x} fixes bytes that do not lie wholly in "
                                  "one section's raw data (or the headers), so the image cannot move to 0x{:x}",
                                  image.path, reloc.rva, base));
    relocateValue(moved.file.data() + *offset, reloc.type, delta);
  }
  uint32_t peOffset = 0;
  std::memcpy(&peOffset, image.file.data() + 0x3C, 4);  // validated: e_lfanew inside the file
  std::memcpy(moved.file.data() + peOffset + kImageBaseOffsetFromPe, &base, 8);
  moved.imageBase = base;
  if (moved.loadConfig) {
    if (moved.loadConfig->securityCookie) moved.loadConfig->securityCookie += delta;
    if (moved.loadConfig->chpeMetadataPointer) moved.loadConfig->chpeMetadataPointer += delta;
  }
  return moved;
}

}  // namespace hph
