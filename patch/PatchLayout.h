// Where a patch's pieces go in the process: the hotpatch area right past the base image's
// end (where Windows puts the address table: stubs, trampolines, veneers), then the patch
// images in order, each with its pointer cells; and the functions each image redirects,
// as PatchSites the protocols build plans for. Laid out once per scenario; every machine
// that runs it loads the same layout.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "emu/core/Machine.h"
#include "emu/pe/ImageLoader.h"
#include "emu/pe/PeImage.h"
#include "patch/HybridSite.h"
#include "patch/Protocol.h"
#include "support/Result.h"

namespace hph {

inline constexpr uint64_t kImageAlignment = 0x10000;
inline constexpr uint64_t kHotpatchAreaBytes = 0x10000;
// Bytes before an entry a site keeps (padding an x64 protocol may write into).
inline constexpr uint32_t kBytesBeforeEntry = 16;

// One function a patch image without a table of its own replaces: names are exports,
// `.pdata` names or "rva:0x...".
struct FunctionRedirect {
  std::string target;       // in the base image
  std::string replacement;  // in the patch image
};

// What is asked for: the patch images in order (one, or a cumulative series each carrying
// its own table over the one before), or one image with an explicit function map.
struct PatchRequest {
  std::string origin;  // starts every message: the scenario's path
  std::vector<std::string> images;
  std::vector<FunctionRedirect> functions;
  std::optional<uint64_t> loadAddress;  // where the first image loads (default: after the hotpatch area)
  // A hybrid (Arm64EC) base image: which of each function's entries the patch redirects.
  // Functions are then its Arm64EC exports, and the patch images Arm64EC images too.
  std::optional<HybridSite> hybridSite;
};

// One patch image, where it loads and what loading it involves.
struct PatchImage {
  std::shared_ptr<const PeImage> image;
  std::string sha256;
  uint64_t loadAddress = 0;
  // Pointer cells (secure-hotpatch __ref_ cells, ABSOLUTE chunks): the cell's RVA in the
  // patch, and the base RVA whose address it must hold.
  std::vector<std::pair<uint32_t, uint32_t>> cells;
  uint32_t sequenceNumber = 0;  // from its own table; 0 for an explicitly mapped patch
};

struct PatchLayout {
  uint64_t scratchBase = 0;  // the hotpatch area: kScratchPerSite bytes per redirected entry
  std::vector<PatchImage> patches;
  std::vector<PatchSite> sites;  // in application order; a patch over a patch repeats its entry
};

// Reads the images, checks they fit and match the base, and resolves what each patches.
// Bad input is "<origin>: <field>: problem".
Result<PatchLayout> layOutPatches(const PatchRequest& request, const PeImage& base);

// Loads the base image at its image base and, with patches, the hotpatch area and the
// patch images with their pointer cells filled: the memory every run starts from.
// `hybrid`: kAllowed for a hybrid process's machine (emu/hybrid), which runs both kinds of code.
Result<LoadedImage> loadPatchedImages(Machine& machine, const PeImage& base, const PatchLayout& layout,
                                      HybridImages hybrid = HybridImages::kRefused);

}  // namespace hph
