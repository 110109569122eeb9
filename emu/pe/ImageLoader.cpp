#include "emu/pe/ImageLoader.h"

#include <fmt/format.h>

#include <cstring>

#include "emu/pe/ChpeMetadata.h"
#include "emu/pe/ImageRebase.h"
#include "emu/pe/PeFormat.h"
#include "support/FileName.h"

namespace hph {
namespace {

void applyRelocations(std::span<uint8_t> mapped, const PeImage& image, uint64_t delta) {
  // validated: every relocation inside SizeOfImage
  for (const BaseRelocation& reloc : image.relocations) relocateValue(mapped.data() + reloc.rva, reloc.type, delta);
}

}  // namespace

Result<LoadedImage> loadImage(Machine& machine, const PeImage& image, std::optional<uint64_t> base,
                              HybridImages hybrid) {
  if (image.arch != &machine.arch())
    return badInput(fmt::format("{}: FileHeader.Machine: a {} image cannot run on a {} machine", image.path,
                                image.arch->name(), machine.arch().name()));
  if (hybrid == HybridImages::kRefused)
    if (auto single = pe::requireOneKindOfCode(image); !single) return single.error();
  const uint64_t at = base.value_or(image.imageBase);
  if (at % kImageBaseAlignment)
    return badInput(fmt::format("{}: load base 0x{:x} is not 64 KiB aligned", image.path, at));
  // As Windows: an image without a base-relocation directory has nothing to fix and loads
  // anywhere (code that reaches its data only PC-relatively), unless the linker said
  // that relocations were stripped.
  if (at != image.imageBase && (image.characteristics & pe::kFileRelocsStripped))
    return badInput(fmt::format("{}: FileHeader.Characteristics: IMAGE_FILE_RELOCS_STRIPPED is set, so it "
                                "cannot load at 0x{:x} (only at its preferred base 0x{:x})",
                                image.path, at, image.imageBase));

  const std::string name = fileNameOf(image.path);
  auto region = machine.map(at, image.sizeOfImage, kAll, name);
  if (!region) return region.error();
  std::span<uint8_t> mapped = region.value()->span();

  std::memcpy(mapped.data(), image.file.data(), std::min<size_t>(image.sizeOfHeaders, image.file.size()));
  for (const SectionInfo& section : image.sections) {
    const std::vector<uint8_t> bytes = image.bytesAt(section.virtualAddress, section.end() - section.virtualAddress);
    std::memcpy(mapped.data() + section.virtualAddress, bytes.data(), bytes.size());
  }
  applyRelocations(mapped, image, at - image.imageBase);
  for (const ImportInfo& import : image.imports) {
    auto stub = machine.bindImport(import.dll, import.function);
    if (!stub) return stub.error();
    std::memcpy(mapped.data() + import.iatRva, &stub.value(), 8);
  }
  machine.engine().forgetCode(at, at + image.sizeOfImage);
  machine.addModule({name, at, image.sizeOfImage, image.path});
  return LoadedImage{&image, at};
}

}  // namespace hph
