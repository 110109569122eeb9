// libFuzzer target: CHPE (hybrid) metadata from untrusted bytes (emu/pe/ChpeMetadata.cpp).
// The hybrid corpus image (an Arm64EC DLL) with the fuzzer's bytes written over its
// IMAGE_ARM64EC_METADATA and what follows it in its section (StructureOverlay.h): the
// header, and the tables it points at when they point there. The seed is the image's own
// metadata, so mutations start from a table every field of which is valid.
#include "fuzz/StructureOverlay.h"

namespace {

hph::fuzz::TableSlot chpeSlot() {
  auto [file, image] = hph::fuzz::corpusImage("hybrid.arm64ec.dll");
  if (!image.loadConfig || !image.chpe) std::abort();
  const auto metadataRva = static_cast<uint32_t>(image.loadConfig->chpeMetadataPointer - image.imageBase);
  return hph::fuzz::slotAt(std::move(file), image, metadataRva);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hph::fuzz::TableSlot slot = chpeSlot();
  hph::fuzz::parseWithTable(slot, data, size);
  return 0;
}
