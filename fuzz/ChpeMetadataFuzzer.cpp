// libFuzzer target: CHPE (hybrid) metadata from untrusted bytes (emu/pe/LoadConfig.cpp).
// An Arm64 corpus image whose load config's CHPEMetadataPointer is set to the slack at the
// end of .rdata, where the fuzzer's bytes go (StructureOverlay.h): the metadata header,
// and the code map and tables it points at when they point there too.
#include "emu/pe/PeFormat.h"
#include "fuzz/StructureOverlay.h"

namespace {

hph::fuzz::TableSlot chpeSlot() {
  auto [file, image] = hph::fuzz::corpusImage("basics.arm64.dll");
  const hph::SectionInfo* rdata = nullptr;
  for (const hph::SectionInfo& s : image.sections)
    if (s.name == ".rdata") rdata = &s;
  if (!rdata || !image.loadConfig) std::abort();
  const uint32_t metadataRva = (rdata->virtualAddress + rdata->virtualSize + 15) & ~15u;
  const uint64_t pointer = image.imageBase + metadataRva;
  const auto field = image.fileOffset(image.loadConfig->rva + hph::pe::loadcfg::kChpeMetadataPointer, 8);
  if (!field || !image.fileOffset(metadataRva, 1)) std::abort();
  std::memcpy(file.data() + *field, &pointer, 8);
  return hph::fuzz::slotAt(std::move(file), image, metadataRva);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hph::fuzz::TableSlot slot = chpeSlot();
  hph::fuzz::parseWithTable(slot, data, size);
  return 0;
}
