#include "patch/PatchLayout.h"

#include <fmt/format.h>

#include <algorithm>

#include "emu/core/Process.h"
#include "emu/pe/ChpeMetadata.h"
#include "patch/PatchTable.h"
#include "support/Digest.h"
#include "support/FileName.h"

namespace hph {
namespace {

constexpr std::string_view kRefPrefix = "__ref_";

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

const ExportInfo* findExport(const PeImage& image, std::string_view name) {
  for (const ExportInfo& e : image.exports)
    if (e.name == name) return &e;
  return nullptr;
}

// A patch image must land where nothing else is: not on the base image, the hotpatch
// area or an earlier patch, and below the harness's own areas (thread stacks and TEBs,
// shims); checked here, at load, rather than as a mapping failure while exploring.
Result<void> checkPatchPlacement(const PatchRequest& request, size_t index, const PeImage& base,
                                 const PatchLayout& layout, const PatchImage& patch) {
  const uint64_t begin = patch.loadAddress, size = patch.image->sizeOfImage;
  const std::string field = request.loadAddress ? "patch_address" : "patch";
  auto fail = [&](const std::string& problem) {
    return badInput(fmt::format("{}: {}: patch[{}] {} at 0x{:x}..0x{:x} {}", request.origin, field, index,
                                fileNameOf(patch.image->path), begin, begin + size, problem));
  };
  if (begin < kImageAlignment || begin > Process::kThreadAreaBase || size > Process::kThreadAreaBase - begin)
    return fail(fmt::format("must lie inside 0x{:x}..0x{:x} (above: the harness's stacks and shims)", kImageAlignment,
                            Process::kThreadAreaBase));
  const auto overlaps = [&](uint64_t b, uint64_t e) { return begin < e && b < begin + size; };
  if (overlaps(base.imageBase, base.imageBase + base.sizeOfImage))
    return fail(fmt::format("overlaps the base image {} at 0x{:x}..0x{:x}", fileNameOf(base.path), base.imageBase,
                            base.imageBase + base.sizeOfImage));
  if (overlaps(layout.scratchBase, layout.scratchBase + kHotpatchAreaBytes))
    return fail(fmt::format("overlaps the hotpatch area at 0x{:x}..0x{:x}", layout.scratchBase,
                            layout.scratchBase + kHotpatchAreaBytes));
  for (size_t i = 0; i < layout.patches.size(); ++i) {
    const PatchImage& earlier = layout.patches[i];
    if (overlaps(earlier.loadAddress, earlier.loadAddress + earlier.image->sizeOfImage))
      return fail(fmt::format("overlaps patch[{}] {} at 0x{:x}..0x{:x}", i, fileNameOf(earlier.image->path),
                              earlier.loadAddress, earlier.loadAddress + earlier.image->sizeOfImage));
  }
  return {};
}

const HybridFunction* hybridFunction(const PeImage& image, std::string_view name) {
  if (!image.chpe) return nullptr;
  for (const HybridFunction& f : image.chpe->functions)
    if (f.name == name) return &f;
  return nullptr;
}

// The site of a hybrid function: its body, or the x64 entry its export points at.
std::optional<uint32_t> hybridSiteRva(const PeImage& image, std::string_view name, HybridSite site) {
  const HybridFunction* f = hybridFunction(image, name);
  if (!f) return std::nullopt;
  return site == HybridSite::kNative ? f->body : f->fastForward;
}

// The code a site covers: a function's (from .pdata), a hybrid function's body, or the
// fast-forward sequence of its x64 entry.
struct SiteExtent {
  std::string name;
  uint32_t begin = 0, end = 0;
};
SiteExtent siteExtent(const PeImage& base, uint32_t rva, std::optional<HybridSite> hybrid) {
  if (hybrid && base.chpe)
    for (const HybridFunction& f : base.chpe->functions) {
      if (*hybrid == HybridSite::kNative && f.body == rva) return {f.name, f.body, f.bodyEnd};
      if (*hybrid == HybridSite::kX64Entry && f.fastForward == rva)
        return {f.name, f.fastForward, f.fastForward + pe::kFastForwardBytes};
    }
  const FunctionInfo& target = *base.functionContaining(rva);
  return {target.name, target.begin, target.end};
}

// An image without a table: the request's explicit map, and the `__ref_` exports that
// name the base's globals. (base RVA, patch RVA) per function.
Result<std::vector<std::pair<uint32_t, uint32_t>>> explicitFunctions(const PatchRequest& request, const PeImage& base,
                                                                     PatchImage& patch) {
  const PeImage& p = *patch.image;
  if (request.functions.empty())
    return badInput(fmt::format("{}: [[functions]]: missing: {} carries no hotpatch table, so the scenario must "
                                "map target/replacement",
                                request.origin, fileNameOf(p.path)));
  for (const ExportInfo& e : p.exports) {
    if (!e.name.starts_with(kRefPrefix)) continue;
    const ExportInfo* global = findExport(base, e.name.substr(kRefPrefix.size()));
    if (!global)
      return badInput(fmt::format("{}: patch: {} exports {} but {} exports no {}", request.origin, fileNameOf(p.path),
                                  e.name, fileNameOf(base.path), e.name.substr(kRefPrefix.size())));
    patch.cells.emplace_back(e.rva, global->rva);
  }
  std::vector<std::pair<uint32_t, uint32_t>> functions;
  for (size_t i = 0; i < request.functions.size(); ++i) {
    const FunctionRedirect& map = request.functions[i];
    if (request.hybridSite) {
      const auto target = hybridSiteRva(base, map.target, *request.hybridSite);
      const auto replacement = hybridSiteRva(p, map.replacement, *request.hybridSite);
      if (!target)
        return badInput(fmt::format("{}: [[functions]][{}].target: '{}' is not an Arm64EC function of {} (an export "
                                    "with a fast-forward sequence)",
                                    request.origin, i, map.target, fileNameOf(base.path)));
      if (!replacement)
        return badInput(fmt::format("{}: [[functions]][{}].replacement: '{}' is not an Arm64EC function of {}",
                                    request.origin, i, map.replacement, fileNameOf(p.path)));
      functions.emplace_back(*target, *replacement);
      continue;
    }
    const FunctionInfo* target = base.findFunction(map.target);
    const FunctionInfo* replacement = p.findFunction(map.replacement);
    if (!target)
      return badInput(fmt::format("{}: [[functions]][{}].target: '{}' is not a function of {}", request.origin, i,
                                  map.target, fileNameOf(base.path)));
    if (!replacement)
      return badInput(fmt::format("{}: [[functions]][{}].replacement: '{}' is not a function of {}", request.origin, i,
                                  map.replacement, fileNameOf(p.path)));
    functions.emplace_back(target->begin, replacement->begin);
  }
  return functions;
}

// The site for one redirected base function. A second patch of the same entry (a series)
// retargets the redirect the first set up, in the same slot of the hotpatch area.
Result<void> addSite(const PatchRequest& request, const PeImage& base, const PatchImage& patch, uint32_t targetRva,
                     uint32_t replacementRva, std::vector<std::pair<uint64_t, size_t>>& redirected,
                     PatchLayout& layout) {
  const SiteExtent target = siteExtent(base, targetRva, request.hybridSite);
  PatchSite site;
  site.name = target.name;
  site.entry = base.imageBase + target.begin;
  site.code = base.bytesAt(target.begin, target.end - target.begin);
  const SectionInfo* section = base.sectionAt(target.begin);
  const uint32_t beforeStart =
      std::max(section->virtualAddress, target.begin - std::min(target.begin, kBytesBeforeEntry));
  site.before = base.bytesAt(beforeStart, target.begin - beforeStart);
  site.replacement = patch.loadAddress + replacementRva;
  const auto earlier =
      std::find_if(redirected.begin(), redirected.end(), [&](const auto& r) { return r.first == site.entry; });
  if (earlier != redirected.end()) {
    site.scratch = layout.sites[earlier->second].scratch;
    for (auto it = layout.sites.rbegin(); it != layout.sites.rend(); ++it)
      if (it->entry == site.entry) {
        site.previous = it->replacement;
        break;
      }
  } else {
    site.scratch = layout.scratchBase + redirected.size() * kScratchPerSite;
    if (site.scratch + kScratchPerSite > layout.scratchBase + kHotpatchAreaBytes)
      return badInput(fmt::format("{}: patch: more functions than the {}-byte hotpatch area holds", request.origin,
                                  kHotpatchAreaBytes));
    redirected.emplace_back(site.entry, layout.sites.size());
  }
  layout.sites.push_back(std::move(site));
  return {};
}

}  // namespace

Result<PatchLayout> layOutPatches(const PatchRequest& request, const PeImage& base) {
  PatchLayout layout;
  layout.scratchBase = alignUp(base.imageBase + base.sizeOfImage, kImageAlignment);
  uint64_t next = request.loadAddress.value_or(layout.scratchBase + kHotpatchAreaBytes);
  uint32_t appliedSequence = 0;
  std::vector<std::pair<uint64_t, size_t>> redirected;  // site entry -> its first site
  for (size_t index = 0; index < request.images.size(); ++index) {
    const std::string& path = request.images[index];
    const std::string origin = fmt::format("{}: patch[{}]", request.origin, index);
    auto image = readPeImage(path);
    if (!image) return Error{image.error().status, fmt::format("{}: {}", origin, image.error().message)};
    if (request.hybridSite) {
      if (!image->chpe || image->isArm64x)
        return badInput(fmt::format("{}: {} is not an Arm64EC image (no CHPE metadata): a hybrid base takes Arm64EC "
                                    "patch images",
                                    origin, fileNameOf(path)));
    } else if (auto single = pe::requireOneKindOfCode(*image); !single) {
      return Error{single.error().status, fmt::format("{}: {}", origin, single.error().message)};
    }
    if (image->arch != base.arch)
      return badInput(fmt::format("{}: {} is {}, the base is {}", origin, fileNameOf(path), image->arch->name(),
                                  base.arch->name()));
    PatchImage patch;
    patch.image = std::make_shared<const PeImage>(std::move(image).value());
    patch.sha256 = sha256OfFile(path);
    patch.loadAddress = next;
    if (auto placed = checkPatchPlacement(request, index, base, layout, patch); !placed) return placed.error();
    next = alignUp(next + patch.image->sizeOfImage, kImageAlignment);
    std::vector<std::pair<uint32_t, uint32_t>> functions;  // base RVA -> patch RVA
    if (patch.image->hotPatch && request.hybridSite) {
      return badInput(fmt::format("{}: {} carries a hotpatch table; hph maps the functions of Arm64EC patch images "
                                  "through [[functions]] only",
                                  origin, fileNameOf(path)));
    } else if (patch.image->hotPatch) {
      if (!request.functions.empty())
        return badInput(fmt::format("{}: [[functions]]: {} carries its own hotpatch table; an explicit map as well is "
                                    "ambiguous (drop one)",
                                    request.origin, fileNameOf(path)));
      auto table = readPatchTable(base, *patch.image, appliedSequence, origin);
      if (!table) return table.error();
      patch.cells = std::move(table->cells);
      patch.sequenceNumber = appliedSequence = table->sequenceNumber;
      functions = std::move(table->functions);
    } else {
      auto mapped = explicitFunctions(request, base, patch);
      if (!mapped) return mapped.error();
      functions = std::move(mapped).value();
    }
    for (const auto& [targetRva, replacementRva] : functions)
      if (auto added = addSite(request, base, patch, targetRva, replacementRva, redirected, layout); !added)
        return added.error();
    layout.patches.push_back(std::move(patch));
  }
  return layout;
}

Result<LoadedImage> loadPatchedImages(Machine& m, const PeImage& base, const PatchLayout& layout, HybridImages hybrid) {
  auto loaded = loadImage(m, base, std::nullopt, hybrid);
  if (!loaded) return loaded.error();
  if (layout.patches.empty()) return loaded;
  auto scratch = m.map(layout.scratchBase, kHotpatchAreaBytes, kAll, "hotpatch area");
  if (!scratch) return scratch.error();
  for (const PatchImage& p : layout.patches) {
    auto patch = loadImage(m, *p.image, p.loadAddress, hybrid);
    if (!patch) return patch.error();
    // Pointer cells: the patch's view of the base's globals.
    for (const auto& [cell, target] : p.cells) {
      const uint64_t value = loaded->address(target);
      m.writeGuest(patch->address(cell), {reinterpret_cast<const uint8_t*>(&value), 8});
    }
  }
  return loaded;
}

}  // namespace hph
