#include "harness/scenario/PreparedScenario.h"

#include <fmt/format.h>

#include <algorithm>

#include "emu/pe/ChpeMetadata.h"
#include "emu/pe/ImageRebase.h"
#include "harness/scenario/WatchedCode.h"
#include "properties/ReferenceMachine.h"
#include "support/Digest.h"
#include "support/EchoText.h"
#include "support/FileName.h"
#include "support/NumberText.h"

namespace hph {
namespace {

// "bump", "bump+4", "rva:0x1020+0x2" -> the function and an offset into it.
struct SiteName {
  const FunctionInfo* function = nullptr;
  uint32_t offset = 0;
};

std::optional<SiteName> resolveSite(const PeImage& image, std::string_view text) {
  SiteName site;
  std::string_view name = text;
  if (const size_t plus = text.rfind('+'); plus != std::string_view::npos) {
    const auto offset = parseUnsigned(text.substr(plus + 1), {.upperCasePrefix = false, .max = UINT32_MAX});
    if (!offset) return std::nullopt;
    site.offset = static_cast<uint32_t>(*offset);
    name = text.substr(0, plus);
  }
  site.function = image.findFunction(name);
  if (!site.function || site.offset >= site.function->end - site.function->begin) return std::nullopt;
  return site;
}

Result<uint64_t> functionAddress(const Scenario& scenario, const PeImage& base, std::string_view field,
                                 const std::string& name) {
  const FunctionInfo* f = base.findFunction(name);
  if (!f)
    return badInput(
        fmt::format("{}: {}: '{}' is not a function of {}", scenario.path, field, name, fileNameOf(scenario.base)));
  return base.imageBase + f->begin;
}

// An [onhost] counter named `name`: a function, or an exported variable (an export outside
// every executable section), of the last patch image that has it (where the new code
// keeps its counter) or of the base.
Result<OnHostCounter> onHostCounter(const Scenario& scenario, const ScenarioInputs& inputs, std::string_view field,
                                    const std::string& name) {
  std::vector<std::pair<const PeImage*, uint64_t>> images;
  for (auto p = inputs.layout.patches.rbegin(); p != inputs.layout.patches.rend(); ++p)
    images.emplace_back(p->image.get(), p->loadAddress);
  images.emplace_back(inputs.base.get(), inputs.base->imageBase);
  for (const auto& [image, loadAddress] : images) {
    if (const FunctionInfo* f = image->findFunction(name)) return OnHostCounter{loadAddress + f->begin, false};
    for (const ExportInfo& e : image->exports) {
      const SectionInfo* section = e.name == name && !e.forwarded ? image->sectionAt(e.rva) : nullptr;
      if (section && !section->executable() && e.rva + 8 <= section->end())
        return OnHostCounter{loadAddress + e.rva, true};
    }
  }
  return badInput(
      fmt::format("{}: {}: '{}' is neither a function nor an exported variable of the base or a patch image",
                  scenario.path, field, name));
}

// [[host_write]]: each store must land in the image's memory, found here, not 40 s into
// exploring.
Result<void> resolveHostWrites(const Scenario& scenario, const PeImage& base, ScenarioInputs& inputs) {
  for (size_t i = 0; i < scenario.hostWrites.size(); ++i) {
    const HostWrite& w = scenario.hostWrites[i];
    auto site = resolveSite(base, w.target);
    if (!site)
      return badInput(fmt::format("{}: [[host_write]][{}].target: '{}' is not a function (+offset inside it) of {}",
                                  scenario.path, i, echoText(w.target), fileNameOf(scenario.base)));
    const uint32_t at = site->function->begin + site->offset;
    const SectionInfo* section = base.sectionAt(at);
    if (!section || w.bytes.size() > section->end() - at)
      return badInput(fmt::format("{}: [[host_write]][{}].bytes: {} bytes at {} (RVA 0x{:x}) run past the end of "
                                  "section {} of {} (RVA 0x{:x})",
                                  scenario.path, i, w.bytes.size(), echoText(w.target), at,
                                  section ? section->name : "?", fileNameOf(scenario.base),
                                  section ? section->end() : 0));
    inputs.hostWrites.push_back(StoreStep{.address = base.imageBase + at, .bytes = w.bytes, .label = w.target});
  }
  return {};
}

// H5: with HotPatchRestrictions=1 Windows refuses hotpatches to (and from) images with CHPE
// metadata; so does a scenario with [chpe] restriction = true, before anything runs.
Result<void> refuseRestrictedChpe(const Scenario& scenario, const PeImage& image, std::string_view role) {
  if (!scenario.chpeRestriction || scenario.patches.empty() || !image.hasChpeMetadata()) return {};
  return badInput(fmt::format("{}: [chpe].restriction: HotPatchRestrictions=1 refuses hotpatches to and from images "
                              "with CHPE metadata, and the {} {} has it (load config.CHPEMetadataPointer)",
                              scenario.path, role, fileNameOf(image.path)));
}

// The patch images laid out, the plan built for their sites, and what the checkers need.
Result<void> preparePatches(const Scenario& scenario, const PeImage& base, ScenarioInputs& inputs) {
  PatchRequest request{.origin = scenario.path, .images = scenario.patches, .loadAddress = scenario.patchAddress};
  if (scenario.hybrid) request.hybridSite = scenario.hybridSite;
  for (const FunctionMap& map : scenario.functions) request.functions.push_back(map);
  auto layout = layOutPatches(request, base);
  if (!layout) return layout.error();
  inputs.layout = std::move(layout).value();
  for (const PatchImage& patch : inputs.layout.patches)
    if (auto restricted = refuseRestrictedChpe(scenario, *patch.image, "patch image"); !restricted)
      return restricted.error();
  inputs.protocolOptions = ProtocolOptions{.reverse = scenario.reverse,
                                           .staticChecks = scenario.staticChecks,
                                           .defect = scenario.defect,
                                           .idc = scenario.arm64.idc,
                                           .dic = scenario.arm64.dic};
  // A hybrid image's sites are x64 or Arm64 code (Scenario::arch); any other's, its machine's.
  auto plan = buildPlan(*scenario.protocol, archOf(scenario.arch), inputs.layout.sites, inputs.protocolOptions);
  // The status stays: a protocol whose precondition fails refuses, bad input is bad input.
  if (!plan) return Error{plan.error().status, fmt::format("{}: [protocol]: {}", scenario.path, plan.error().message)};
  inputs.plan = std::move(plan).value();
  if (scenario.protocol == ProtocolKind::kInt3ThreeStep)
    for (const PatchSite& site : inputs.layout.sites)
      inputs.breakpointRedirects.emplace_back(
          site.entry, scenario.defect == ProtocolDefect::kResumeInside ? site.entry + 1 : site.replacement);
  for (size_t i = 0; i < scenario.functions.size() && scenario.hybrid; ++i) {
    std::vector<NamedEntry> callers;
    for (const std::string& name : scenario.functions[i].callers) {
      const auto e = std::find_if(base.exports.begin(), base.exports.end(),
                                  [&](const ExportInfo& x) { return x.name == name && !x.forwarded; });
      if (e == base.exports.end())
        return badInput(fmt::format("{}: [[functions]][{}].callers: '{}' is not an export of {}", scenario.path, i,
                                    name, fileNameOf(base.path)));
      callers.push_back({name, base.imageBase + e->rva});
    }
    inputs.declaredCallers.push_back(std::move(callers));
  }
  // C5 results: pure functions' direct callers resume at watched return sites.
  for (size_t i = 0; i < scenario.functions.size(); ++i)
    if (scenario.functions[i].pure)
      inputs.pure.push_back(PureSite{i, directCallReturnSites(base, inputs.layout.sites[i].entry)});
  return {};
}

}  // namespace

Result<std::shared_ptr<const ScenarioInputs>> prepareScenario(const Scenario& scenario) {
  auto inputs = std::make_shared<ScenarioInputs>();
  inputs->scenario = scenario;
  auto image = readPeImage(scenario.base);
  if (!image) return Error{image.error().status, fmt::format("{}: base: {}", scenario.path, image.error().message)};
  if (auto restricted = refuseRestrictedChpe(scenario, *image, "base"); !restricted) return restricted.error();
  if (scenario.hybrid) {
    if (!image->chpe || image->isArm64x)
      return badInput(fmt::format("{}: arch: scenario says arm64ec but {} is {}", scenario.path,
                                  fileNameOf(scenario.base),
                                  image->isArm64x ? "an ARM64X image (hph runs Arm64EC images as hybrids)"
                                                  : fmt::format("{} with no CHPE metadata", image->arch->name())));
  } else if (auto single = pe::requireOneKindOfCode(*image); !single) {
    return Error{single.error().status, fmt::format("{}: base: {}", scenario.path, single.error().message)};
  } else if (image->arch->kind() != scenario.arch)
    return badInput(fmt::format("{}: arch: scenario says {} but {} is {}", scenario.path, archOf(scenario.arch).name(),
                                fileNameOf(scenario.base), image->arch->name()));
  if (scenario.baseAddress && *scenario.baseAddress != image->imageBase) {
    auto moved = rebaseImage(*image, *scenario.baseAddress);
    if (!moved) return Error{moved.error().status, fmt::format("{}: base: {}", scenario.path, moved.error().message)};
    // patch_address was written against the preferred base: it moves with the image.
    if (inputs->scenario.patchAddress) *inputs->scenario.patchAddress += *scenario.baseAddress - image->imageBase;
    image = std::move(moved);
  }
  inputs->base = std::make_shared<const PeImage>(std::move(image).value());
  const PeImage& base = *inputs->base;
  if (scenario.hybrid) {
    if (!scenario.patches.empty())
      if (auto r = preparePatches(inputs->scenario, base, *inputs); !r) return r.error();
    inputs->scenarioSha256 = sha256OfFile(scenario.path);
    inputs->baseSha256 = sha256OfFile(scenario.base);
    return std::shared_ptr<const ScenarioInputs>(std::move(inputs));
  }
  auto entry = functionAddress(scenario, base, "[threads].entry", scenario.threadEntry);
  if (!entry) return entry.error();
  inputs->threadEntry = *entry;
  if (scenario.invariant) {
    auto invariant = functionAddress(scenario, base, "[check].invariant", *scenario.invariant);
    if (!invariant) return invariant.error();
    inputs->invariantEntry = *invariant;
  }
  if (auto r = resolveHostWrites(scenario, base, *inputs); !r) return r.error();
  if (!scenario.patches.empty())
    if (auto r = preparePatches(inputs->scenario, base, *inputs); !r) return r.error();
  if (scenario.onHostCalls) {
    auto calls = onHostCounter(scenario, *inputs, "[onhost].calls", *scenario.onHostCalls);
    if (!calls) return calls.error();
    inputs->onHostCalls = *calls;
    auto newCalls = onHostCounter(scenario, *inputs, "[onhost].new_calls", *scenario.onHostNewCalls);
    if (!newCalls) return newCalls.error();
    inputs->onHostNewCalls = *newCalls;
  }
  if (auto r = resolveWatchedCode(scenario, *inputs); !r) return r.error();
  const bool anythingWatched =
      !scenario.hostWrites.empty() || !scenario.explore.watch.empty() || !scenario.patches.empty();
  inputs->points = scenario.explore.points.value_or(anythingWatched ? PointsMode::kVisible : PointsMode::kAll);
  if (inputs->points != PointsMode::kAll && !anythingWatched)
    return badInput(fmt::format("{}: [explore].points: '{}' but nothing is watched (no "
                                "[[host_write]] and no [explore].watch)",
                                scenario.path, pointsModeName(inputs->points)));
  inputs->scenarioSha256 = sha256OfFile(scenario.path);
  inputs->baseSha256 = sha256OfFile(scenario.base);
  return std::shared_ptr<const ScenarioInputs>(std::move(inputs));
}

}  // namespace hph
