// libFuzzer target: an ARM64X image's dynamic value relocation table from untrusted bytes
// (emu/pe/Arm64xRelocations.cpp), and the Arm64EC view its fixups make. The ARM64X corpus
// image with the fuzzer's bytes written over its table and what follows it in its section
// (StructureOverlay.h); the seed is the image's own table, so mutations start from a table
// every field of which is valid.
#include "emu/pe/Arm64xRelocations.h"
#include "emu/pe/PeFormat.h"
#include "fuzz/StructureOverlay.h"

namespace {

hph::fuzz::TableSlot tableSlot() {
  auto [file, image] = hph::fuzz::corpusImage("hybridx.arm64x.dll");
  if (!image.loadConfig || !image.isArm64x) std::abort();
  const auto field = [&](uint32_t offset, uint32_t width) {
    uint32_t value = 0;
    const auto at = image.fileOffset(image.loadConfig->rva + offset, width);
    if (!at) std::abort();
    std::memcpy(&value, file.data() + *at, width);
    return value;
  };
  const uint32_t offset = field(hph::pe::loadcfg::kDynamicValueRelocTableOffset, 4);
  const uint32_t section = field(hph::pe::loadcfg::kDynamicValueRelocTableSection, 2);
  if (section == 0 || section > image.sections.size()) std::abort();
  return hph::fuzz::slotAt(std::move(file), image, image.sections[section - 1].virtualAddress + offset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hph::fuzz::TableSlot slot = tableSlot();
  hph::fuzz::parseWithTable(slot, data, size);
  return 0;
}
