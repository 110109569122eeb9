#include "harness/scenario/WatchedCode.h"

#include <fmt/format.h>

#include <filesystem>

#include "emu/pe/PeFormat.h"
#include "support/FileName.h"

namespace hph {
namespace {

// Every image a scenario loads, with where it loads: the base, then the patches.
struct LoadedImageRef {
  const PeImage* image;
  uint64_t base;
};

std::vector<LoadedImageRef> loadedImages(const ScenarioInputs& inputs) {
  std::vector<LoadedImageRef> images{{inputs.base.get(), inputs.base->imageBase}};
  for (const PatchImage& p : inputs.layout.patches) images.push_back({p.image.get(), p.loadAddress});
  return images;
}

AddressRange rangeOf(const LoadedImageRef& in, const FunctionInfo& f) { return {in.base + f.begin, in.base + f.end}; }

// "name", or "image!name" where the name is ambiguous; the image as "counter_patch",
// "counter_patch.x64" or "counter_patch.x64.dll".
Result<AddressRange> resolveWatchName(const Scenario& scenario, const std::vector<LoadedImageRef>& images,
                                      const std::string& name) {
  const size_t bang = name.find('!');
  const std::string imageName = bang == std::string::npos ? "" : name.substr(0, bang);
  if (bang != std::string::npos && (imageName.empty() || bang + 1 == name.size()))
    return badInput(fmt::format("{}: [explore].watch: '{}': expected name or image!name", scenario.path, name));
  const std::string function = bang == std::string::npos ? name : name.substr(bang + 1);
  std::vector<std::pair<const LoadedImageRef*, const FunctionInfo*>> found;
  std::string searched;
  for (const LoadedImageRef& in : images) {
    const std::string file = fileNameOf(in.image->path);
    const bool named = file == imageName || std::filesystem::path(file).stem().string() == imageName ||
                       file.substr(0, file.find('.')) == imageName;
    if (!imageName.empty() && !named) continue;
    searched += (searched.empty() ? "" : ", ") + file;
    if (const FunctionInfo* f = in.image->findFunction(function)) found.emplace_back(&in, f);
  }
  if (searched.empty())
    return badInput(
        fmt::format("{}: [explore].watch: '{}': no loaded image is called '{}'", scenario.path, name, imageName));
  if (found.empty())
    return badInput(fmt::format("{}: [explore].watch: '{}' is not a function of {}", scenario.path, name, searched));
  if (found.size() > 1)
    return badInput(fmt::format("{}: [explore].watch: '{}' names a function of {} and of {}: write 'image!{}'",
                                scenario.path, name, fileNameOf(found[0].first->image->path),
                                fileNameOf(found[1].first->image->path), function));
  return rangeOf(*found[0].first, *found[0].second);
}

}  // namespace

Result<void> resolveWatchedCode(const Scenario& scenario, ScenarioInputs& inputs) {
  const std::vector<LoadedImageRef> images = loadedImages(inputs);
  const uint64_t window = scenario.explore.window;
  std::vector<AddressRange>& watched = inputs.watched;
  for (const StoreStep& w : inputs.hostWrites)
    watched.push_back({w.address - window, w.address + w.bytes.size() + window});
  for (const PatchSite& site : inputs.layout.sites) {
    watched.push_back({site.entry - kBytesBeforeEntry - window, site.entry + kBytesBeforeEntry + window});
    watched.push_back({site.scratch, site.scratch + kScratchPerSite});
    // Arrivals at the replacement decide whether a call was new (C5, C6, C8).
    watched.push_back({site.replacement, site.replacement + 1});
  }
  for (const PureSite& pure : inputs.pure)
    for (uint64_t r : pure.returnSites) watched.push_back({r, r + 1});
  for (const LoadedImageRef& in : images)
    for (const SectionInfo& s : in.image->sections)
      if (s.characteristics & pe::kSectionWrite)
        inputs.sharedData.push_back({in.base + s.virtualAddress, in.base + s.end()});
  for (const PatchSite& site : inputs.layout.sites) {
    for (const LoadedImageRef& in : images) {
      if (site.replacement < in.base || site.replacement >= in.base + in.image->sizeOfImage) continue;
      if (const FunctionInfo* f = in.image->functionContaining(static_cast<uint32_t>(site.replacement - in.base)))
        watched.push_back(rangeOf(in, *f));
    }
    watched.push_back({site.entry, site.entry + site.code.size()});
  }
  for (const std::string& name : scenario.explore.watch) {
    auto range = resolveWatchName(scenario, images, name);
    if (!range) return range.error();
    watched.push_back(*range);
  }
  return {};
}

}  // namespace hph
