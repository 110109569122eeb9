#include "harness/report/ScenarioJson.h"

#include <fmt/format.h>

#include "harness/report/Provenance.h"

namespace hph {

using nlohmann::json;

// Where a violation happened, as an image and RVA (SARIF locations): the base or a patch
// image that holds the address, else the base with the address as a logical location.
nlohmann::json locateAddress(const ScenarioInputs& inputs, uint64_t address) {
  auto in = [&](const PeImage& image, uint64_t base) -> nlohmann::json {
    if (address < base || address >= base + image.sizeOfImage) return nullptr;
    const auto rva = static_cast<uint32_t>(address - base);
    const auto offset = image.fileOffset(rva, 1);
    return {{"image", image.path}, {"rva", rva}, {"file_offset", offset ? json(*offset) : json(nullptr)}};
  };
  if (json j = in(*inputs.base, inputs.base->imageBase); !j.is_null()) return j;
  for (const PatchImage& p : inputs.layout.patches)
    if (json j = in(*p.image, p.loadAddress); !j.is_null()) return j;
  json j = {{"image", inputs.base->path}, {"rva", nullptr}, {"file_offset", nullptr}};
  if (address >= inputs.layout.scratchBase && inputs.layout.scratchBase)
    j["logical"] = fmt::format("hotpatch area+{:#x}", address - inputs.layout.scratchBase);
  return j;
}

nlohmann::json scenarioProvenance(const ScenarioInputs& inputs) {
  json patches = json::array();
  for (const PatchImage& p : inputs.layout.patches) patches.push_back(p.sha256);
  return {{"scenario_sha256", inputs.scenarioSha256},
          {"base_sha256", inputs.baseSha256},
          {"patch_sha256", patches},
          {"hph_version", hphVersion()},
          {"unicorn_version", unicornVersion()},
          {"lief_version", liefVersion()}};
}

}  // namespace hph
