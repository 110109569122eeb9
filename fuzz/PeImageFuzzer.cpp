// libFuzzer target: a PE image from untrusted bytes. Validation, LIEF's parse, the
// function table, the load config with its CHPE metadata, an ARM64X image's dynamic value
// relocations and the Arm64EC view they make, and a hotpatch image's own table must refuse
// bad bytes as bad input, never crash (fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "emu/pe/Arm64xRelocations.h"
#include "emu/pe/PeImage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto image = hph::parsePeImage(std::vector<uint8_t>(data, data + size), "fuzz.dll");
  if (!image) return 0;
  // Walk what was read, so every parsed field is touched under the sanitizers.
  uint64_t sum = image->imageBase;
  for (const hph::FunctionInfo& f : image->functions) sum += f.begin + f.end + f.name.size();
  if (image->loadConfig) sum += 1;
  if (image->chpe) sum += 2;
  if (image->hotPatch) sum += 3;
  if (image->isArm64x)
    if (auto view = hph::pe::arm64ecView(*image); view && view->chpe) sum += view->chpe->functions.size();
  return static_cast<int>(sum & 0);
}
