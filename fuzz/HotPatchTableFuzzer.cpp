// libFuzzer target: a hotpatch image's own patch table (IMAGE_HOT_PATCH_INFO, its bases and
// entries, emu/pe/HotPatchTable.cpp) from untrusted bytes, inside corpus hotpatch images
// that are otherwise intact (StructureOverlay.h). The first byte picks the x64 or the Arm64
// image; the rest is written where the load config's HotPatchTableOffset points.
#include "fuzz/StructureOverlay.h"

namespace {

hph::fuzz::TableSlot hotPatchSlot(const char* name) {
  auto [file, image] = hph::fuzz::corpusImage(name);
  if (!image.loadConfig || !image.loadConfig->hotPatchTableOffset) std::abort();
  return hph::fuzz::slotAt(std::move(file), image, image.loadConfig->hotPatchTableOffset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hph::fuzz::TableSlot x64 = hotPatchSlot("counter_hotpatch.x64.dll");
  static const hph::fuzz::TableSlot arm64 = hotPatchSlot("counter_hotpatch.arm64.dll");
  if (size < 1) return 0;
  hph::fuzz::parseWithTable(data[0] & 1 ? arm64 : x64, data + 1, size - 1);
  return 0;
}
