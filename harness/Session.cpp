#include "harness/Session.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "support/EchoText.h"
#include "emu/pe/HotPatchTable.h"
#include "emu/pe/PeFormat.h"
#include "support/Digest.h"
#include "support/NumberText.h"
#include "harness/report/Provenance.h"

namespace hph {
namespace {

std::string fileName(const std::string& path) { return std::filesystem::path(path).filename().string(); }

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

constexpr uint64_t kImageAlignment = 0x10000;
constexpr uint64_t kScratchBytes = 0x10000;
constexpr uint32_t kBytesBeforeEntry = 16;
constexpr std::string_view kRefPrefix = "__ref_";

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

const ExportInfo* findExport(const PeImage& image, std::string_view name) {
  for (const ExportInfo& e : image.exports)
    if (e.name == name) return &e;
  return nullptr;
}


// A table-driven patch: its base must be this base image (timestamp and checksum), at
// the sequence number the series has reached.
Result<void> readTable(const Scenario& scenario, size_t index, const PeImage& base, const PeImage& patch,
                       uint32_t appliedSequence, PatchImage& out, std::vector<std::pair<uint32_t, uint32_t>>& functions) {
  const HotPatchInfo& info = *patch.hotPatch;
  auto fail = [&](std::string field, std::string problem) {
    return badInput(fmt::format("{}: patch[{}]: {}: {}: {}", scenario.path, index, fileName(patch.path), field, problem));
  };
  const HotPatchBase* match = nullptr;
  size_t matchIndex = 0;
  for (size_t i = 0; i < info.bases.size() && !match; ++i)
    if (info.bases[i].originalTimeDateStamp == base.timeDateStamp && info.bases[i].originalCheckSum == base.checkSum)
      match = &info.bases[i], matchIndex = i;
  if (!match) {
    const HotPatchBase& first = info.bases.front();
    const bool stampDiffers = first.originalTimeDateStamp != base.timeDateStamp;
    return fail(stampDiffers ? "HotPatchBase[0].OriginalTimeDateStamp" : "HotPatchBase[0].OriginalCheckSum",
                fmt::format("names a base with timestamp 0x{:08x} and checksum 0x{:08x}; {} has 0x{:08x} and "
                            "0x{:08x} (not this patch's base image)",
                            first.originalTimeDateStamp, first.originalCheckSum, fileName(base.path),
                            base.timeDateStamp, base.checkSum));
  }
  const std::string field = fmt::format("HotPatchBase[{}]", matchIndex);
  if (match->sequenceNumber != appliedSequence)
    return fail(field + ".SequenceNumber",
                fmt::format("applies over {}, but {} is at {}", match->sequenceNumber ? fmt::format("patch {}", match->sequenceNumber) : "the unpatched image",
                            fileName(base.path), appliedSequence ? fmt::format("patch {}", appliedSequence) : "the unpatched image"));
  out.sequenceNumber = info.sequenceNumber;
  for (size_t i = 0; i < match->entries.size(); ++i) {
    const HotPatchEntry& e = match->entries[i];
    const std::string entry = fmt::format("{}.PatchTable[{}]", field, i);
    if (e.type == pe::kHotPatchAbsolute) {
      if (e.targetRva >= base.sizeOfImage)
        return fail(entry + ".TargetRva", fmt::format("0x{:x} lies outside {}", e.targetRva, fileName(base.path)));
      if (!patch.fileOffset(e.sourceRva, 8) && patch.bytesAt(e.sourceRva, 8).size() != 8)
        return fail(entry + ".SourceRva", fmt::format("0x{:x} is not an 8-byte cell of the patch", e.sourceRva));
      out.cells.emplace_back(e.sourceRva, e.targetRva);
      continue;
    }
    const FunctionInfo* target = base.findFunction(fmt::format("rva:0x{:x}", e.targetRva));
    const FunctionInfo* source = patch.findFunction(fmt::format("rva:0x{:x}", e.sourceRva));
    if (!target)
      return fail(entry + ".TargetRva", fmt::format("0x{:x} is not a function of {}", e.targetRva, fileName(base.path)));
    if (!source)
      return fail(entry + ".SourceRva", fmt::format("0x{:x} is not a function of the patch", e.sourceRva));
    functions.emplace_back(target->begin, source->begin);
  }
  return {};
}

// A patch image must land where nothing else is: not on the base image, the hotpatch
// area or an earlier patch, and below the harness's own areas (thread stacks and TEBs,
// shims); checked here, at load, rather than as a mapping failure while exploring.
Result<void> checkPatchPlacement(const Scenario& scenario, size_t index, const PeImage& base,
                                 const ScenarioInputs& inputs, const PatchImage& patch) {
  const uint64_t begin = patch.loadAddress, size = patch.image->sizeOfImage;
  const std::string field = scenario.patchAddress ? "patch_address" : "patch";
  auto fail = [&](const std::string& problem) {
    return badInput(fmt::format("{}: {}: patch[{}] {} at 0x{:x}..0x{:x} {}", scenario.path, field, index,
                                fileName(patch.image->path), begin, begin + size, problem));
  };
  if (begin < kImageAlignment || begin > Process::kThreadAreaBase || size > Process::kThreadAreaBase - begin)
    return fail(fmt::format("must lie inside 0x{:x}..0x{:x} (above: the harness's stacks and shims)", kImageAlignment,
                            Process::kThreadAreaBase));
  const auto overlaps = [&](uint64_t b, uint64_t e) { return begin < e && b < begin + size; };
  if (overlaps(base.imageBase, base.imageBase + base.sizeOfImage))
    return fail(fmt::format("overlaps the base image {} at 0x{:x}..0x{:x}", fileName(base.path), base.imageBase,
                            base.imageBase + base.sizeOfImage));
  if (overlaps(inputs.scratchBase, inputs.scratchBase + kScratchBytes))
    return fail(fmt::format("overlaps the hotpatch area at 0x{:x}..0x{:x}", inputs.scratchBase,
                            inputs.scratchBase + kScratchBytes));
  for (size_t i = 0; i < inputs.patches.size(); ++i) {
    const PatchImage& earlier = inputs.patches[i];
    if (overlaps(earlier.loadAddress, earlier.loadAddress + earlier.image->sizeOfImage))
      return fail(fmt::format("overlaps patch[{}] {} at 0x{:x}..0x{:x}", i, fileName(earlier.image->path),
                              earlier.loadAddress, earlier.loadAddress + earlier.image->sizeOfImage));
  }
  return {};
}

// Reads the patch images, places them, resolves what each patches and builds the plan.
Result<void> preparePatches(const Scenario& scenario, const PeImage& base, ScenarioInputs& inputs) {
  // The hotpatch area lies right past the base image's end (where Windows puts the
  // address table); the patch images follow, or start at the scenario's patch_address.
  inputs.scratchBase = alignUp(base.imageBase + base.sizeOfImage, kImageAlignment);
  uint64_t next = scenario.patchAddress.value_or(inputs.scratchBase + kScratchBytes);
  uint32_t appliedSequence = 0;
  std::vector<std::pair<uint64_t, size_t>> redirected;  // site entry -> its first site
  for (size_t index = 0; index < scenario.patches.size(); ++index) {
    const std::string& path = scenario.patches[index];
    auto image = readPeImage(path);
    if (!image) return Error{image.error().status, fmt::format("{}: patch[{}]: {}", scenario.path, index, image.error().message)};
    if (image->arch != base.arch)
      return badInput(fmt::format("{}: patch[{}]: {} is {}, the base is {}", scenario.path, index, fileName(path),
                                  image->arch->name(), base.arch->name()));
    PatchImage patch;
    patch.image = std::make_shared<const PeImage>(std::move(image).value());
    patch.sha256 = sha256OfFile(path);
    patch.loadAddress = next;
    if (auto placed = checkPatchPlacement(scenario, index, base, inputs, patch); !placed) return placed.error();
    next = alignUp(next + patch.image->sizeOfImage, kImageAlignment);
    const PeImage& p = *patch.image;
    std::vector<std::pair<uint32_t, uint32_t>> functions;  // base RVA -> patch RVA
    if (p.hotPatch) {
      if (!scenario.functions.empty())
        return badInput(fmt::format("{}: [[functions]]: {} carries its own hotpatch table; an explicit map as well is "
                                    "ambiguous (drop one)", scenario.path, fileName(path)));
      if (auto r = readTable(scenario, index, base, p, appliedSequence, patch, functions); !r) return r.error();
      appliedSequence = patch.sequenceNumber;
    } else {
      if (scenario.functions.empty())
        return badInput(fmt::format("{}: [[functions]]: missing: {} carries no hotpatch table, so the scenario must "
                                    "map target/replacement", scenario.path, fileName(path)));
      for (const ExportInfo& e : p.exports) {
        if (!e.name.starts_with(kRefPrefix)) continue;
        const ExportInfo* global = findExport(base, e.name.substr(kRefPrefix.size()));
        if (!global)
          return badInput(fmt::format("{}: patch: {} exports {} but {} exports no {}", scenario.path, fileName(path),
                                      e.name, fileName(scenario.base), e.name.substr(kRefPrefix.size())));
        patch.cells.emplace_back(e.rva, global->rva);
      }
      for (size_t i = 0; i < scenario.functions.size(); ++i) {
        const FunctionMap& map = scenario.functions[i];
        const FunctionInfo* target = base.findFunction(map.target);
        const FunctionInfo* replacement = p.findFunction(map.replacement);
        if (!target)
          return badInput(fmt::format("{}: [[functions]][{}].target: '{}' is not a function of {}", scenario.path, i,
                                      map.target, fileName(scenario.base)));
        if (!replacement)
          return badInput(fmt::format("{}: [[functions]][{}].replacement: '{}' is not a function of {}", scenario.path,
                                      i, map.replacement, fileName(path)));
        functions.emplace_back(target->begin, replacement->begin);
      }
    }
    for (const auto& [targetRva, replacementRva] : functions) {
      const FunctionInfo& target = *base.functionContaining(targetRva);
      PatchSite site;
      site.name = target.name;
      site.entry = base.imageBase + target.begin;
      site.code = base.bytesAt(target.begin, target.end - target.begin);
      const SectionInfo* section = base.sectionAt(target.begin);
      const uint32_t beforeStart = std::max(section->virtualAddress, target.begin - std::min(target.begin, kBytesBeforeEntry));
      site.before = base.bytesAt(beforeStart, target.begin - beforeStart);
      site.replacement = patch.loadAddress + replacementRva;
      const auto earlier = std::find_if(redirected.begin(), redirected.end(), [&](const auto& r) { return r.first == site.entry; });
      if (earlier != redirected.end()) {
        // A patch over a patch: retarget the redirect the first one set up.
        const PatchSite& first = inputs.sites[earlier->second];
        site.scratch = first.scratch;
        for (auto it = inputs.sites.rbegin(); it != inputs.sites.rend(); ++it)
          if (it->entry == site.entry) { site.previous = it->replacement; break; }
      } else {
        site.scratch = inputs.scratchBase + redirected.size() * kScratchPerSite;
        if (site.scratch + kScratchPerSite > inputs.scratchBase + kScratchBytes)
          return badInput(fmt::format("{}: patch: more functions than the {}-byte hotpatch area holds", scenario.path,
                                      kScratchBytes));
        redirected.emplace_back(site.entry, inputs.sites.size());
      }
      inputs.sites.push_back(std::move(site));
    }
    inputs.patches.push_back(std::move(patch));
  }
  ProtocolOptions protocolOptions;
  protocolOptions.reverse = scenario.reverse;
  protocolOptions.staticChecks = scenario.staticChecks;
  protocolOptions.defect = scenario.defect;
  protocolOptions.idc = scenario.arm64.idc;
  protocolOptions.dic = scenario.arm64.dic;
  auto plan = buildPlan(*scenario.protocol, *base.arch, inputs.sites, protocolOptions);
  // The status stays: a protocol whose precondition fails refuses, bad input is bad input.
  if (!plan) return Error{plan.error().status, fmt::format("{}: [protocol]: {}", scenario.path, plan.error().message)};
  inputs.plan = std::move(plan).value();
  return {};
}

}  // namespace

Result<LoadedImage> loadScenarioImages(Machine& m, const ScenarioInputs& inputs) {
  auto loaded = loadImage(m, *inputs.base);
  if (!loaded) return loaded.error();
  if (inputs.patches.empty()) return loaded;
  auto scratch = m.map(inputs.scratchBase, kScratchBytes, kAll, "hotpatch area");
  if (!scratch) return scratch.error();
  for (const PatchImage& p : inputs.patches) {
    auto patch = loadImage(m, *p.image, p.loadAddress);
    if (!patch) return patch.error();
    // Pointer cells: the patch's view of the base's globals.
    for (const auto& [cell, target] : p.cells) {
      const uint64_t value = loaded->address(target);
      m.writeGuest(patch->address(cell), {reinterpret_cast<const uint8_t*>(&value), 8});
    }
  }
  return loaded;
}

namespace {

// Where the direct calls of `entry` in the base image return to.
std::vector<uint64_t> returnSitesOf(const PeImage& image, uint64_t entry) {
  std::vector<uint64_t> sites;
  for (const FunctionInfo& f : image.functions) {
    const std::vector<uint8_t> code = image.bytesAt(f.begin, f.end - f.begin);
    for (size_t offset = 0; offset < code.size();) {
      const uint64_t pc = image.imageBase + f.begin + offset;
      const DecodedInstruction insn =
          image.arch->decode(std::span(code).subspan(offset, std::min<size_t>(16, code.size() - offset)), pc);
      if (!insn.valid) break;
      if (insn.flow == Flow::kCall && insn.target == entry) sites.push_back(pc + insn.length);
      offset += insn.length;
    }
  }
  return sites;
}

}  // namespace

Result<std::unique_ptr<ScratchReference>> ScratchReference::create(std::shared_ptr<const ScenarioInputs> inputs) {
  std::unique_ptr<ScratchReference> r(new ScratchReference());
  r->inputs_ = inputs;
  auto machine = Machine::create(*inputs->base->arch);
  if (!machine) return machine.error();
  r->machine_ = std::move(machine).value();
  if (auto loaded = loadScenarioImages(*r->machine_, *inputs); !loaded) return loaded.error();
  r->initial_ = r->machine_->snapshot();
  return r;
}

std::optional<std::pair<uint64_t, uint64_t>> ScratchReference::results(size_t site, const std::vector<uint64_t>& args) {
  const auto key = std::make_pair(site, args);
  if (const auto it = memo_.find(key); it != memo_.end()) return it->second;
  const PatchSite& s = inputs_->sites[site];
  std::optional<std::pair<uint64_t, uint64_t>> out;
  uint64_t values[2] = {};
  bool ok = true;
  for (int version = 0; version < 2 && ok; ++version) {
    // Each from the images as loaded, unpatched: the old entry runs the old function.
    machine_->restore(initial_);
    auto call = machine_->call(version == 0 ? s.entry : s.replacement, args,
                               CallOptions{.instructionBudget = inputs_->scenario.threadBudget, .precisePc = false});
    ok = call && call->completed();
    if (ok) values[version] = call->value;
  }
  if (ok) out = std::make_pair(values[0], values[1]);
  memo_[key] = out;
  return out;
}

namespace {

}  // namespace

namespace {

// Every image a scenario loads, with where it loads: the base, then the patches.
struct LoadedImageRef {
  const PeImage* image;
  uint64_t base;
};

std::vector<LoadedImageRef> loadedImages(const ScenarioInputs& inputs) {
  std::vector<LoadedImageRef> images{{inputs.base.get(), inputs.base->imageBase}};
  for (const PatchImage& p : inputs.patches) images.push_back({p.image.get(), p.loadAddress});
  return images;
}

// Scheduling points and shared data. A patch brings code of its own (the replacement,
// what the plan writes to the hotpatch area) and nothing it adds may run unwatched: by
// default the patched functions and their replacements are watched whole. `watch` names
// functions of any loaded image: "name", or "image!name" where the name is ambiguous.
Result<void> resolveWatched(const Scenario& scenario, ScenarioInputs& inputs) {
  const std::vector<LoadedImageRef> images = loadedImages(inputs);
  auto range = [](const LoadedImageRef& in, const FunctionInfo& f) {
    return AddressRange{in.base + f.begin, in.base + f.end};
  };
  for (const LoadedImageRef& in : images)
    for (const SectionInfo& s : in.image->sections)
      if (s.characteristics & pe::kSectionWrite) inputs.sharedData.push_back({in.base + s.virtualAddress, in.base + s.end()});
  for (const PatchSite& site : inputs.sites) {
    for (const LoadedImageRef& in : images) {
      if (site.replacement < in.base || site.replacement >= in.base + in.image->sizeOfImage) continue;
      if (const FunctionInfo* f = in.image->functionContaining(static_cast<uint32_t>(site.replacement - in.base)))
        inputs.watched.push_back(range(in, *f));
    }
    inputs.watched.push_back({site.entry, site.entry + site.code.size()});
  }
  for (const std::string& name : scenario.explore.watch) {
    const size_t bang = name.find('!');
    const std::string imageName = bang == std::string::npos ? "" : name.substr(0, bang);
    if (bang != std::string::npos && (imageName.empty() || bang + 1 == name.size()))
      return badInput(fmt::format("{}: [explore].watch: '{}': expected name or image!name", scenario.path, name));
    const std::string function = bang == std::string::npos ? name : name.substr(bang + 1);
    std::vector<std::pair<const LoadedImageRef*, const FunctionInfo*>> found;
    std::string searched;
    for (const LoadedImageRef& in : images) {
      const std::string file = fileName(in.image->path);
      // "counter_patch", "counter_patch.x64" and "counter_patch.x64.dll" all name it.
      const bool named = file == imageName || std::filesystem::path(file).stem().string() == imageName ||
                         file.substr(0, file.find('.')) == imageName;
      if (!imageName.empty() && !named) continue;
      searched += (searched.empty() ? "" : ", ") + file;
      if (const FunctionInfo* f = in.image->findFunction(function)) found.emplace_back(&in, f);
    }
    if (searched.empty())
      return badInput(fmt::format("{}: [explore].watch: '{}': no loaded image is called '{}'", scenario.path, name,
                                  imageName));
    if (found.empty())
      return badInput(fmt::format("{}: [explore].watch: '{}' is not a function of {}", scenario.path, name, searched));
    if (found.size() > 1)
      return badInput(fmt::format("{}: [explore].watch: '{}' names a function of {} and of {}: write "
                                  "'image!{}'", scenario.path, name, fileName(found[0].first->image->path),
                                  fileName(found[1].first->image->path), function));
    inputs.watched.push_back(range(*found[0].first, *found[0].second));
  }
  return {};
}

}  // namespace

Result<std::shared_ptr<const ScenarioInputs>> prepareScenario(const Scenario& scenario) {
  auto inputs = std::make_shared<ScenarioInputs>();
  inputs->scenario = scenario;
  auto image = readPeImage(scenario.base);
  if (!image) return Error{image.error().status, fmt::format("{}: base: {}", scenario.path, image.error().message)};
  if (image->arch->kind() != scenario.arch)
    return badInput(fmt::format("{}: arch: scenario says {} but {} is {}", scenario.path, archOf(scenario.arch).name(),
                                fileName(scenario.base), image->arch->name()));
  inputs->base = std::make_shared<const PeImage>(std::move(image).value());
  const PeImage& base = *inputs->base;
  auto requireFunction = [&](std::string_view field, const std::string& name) -> Result<void> {
    if (!base.findFunction(name))
      return badInput(fmt::format("{}: {}: '{}' is not a function of {}", scenario.path, field, name,
                                  fileName(scenario.base)));
    return {};
  };
  if (auto r = requireFunction("[threads].entry", scenario.threadEntry); !r) return r.error();
  if (scenario.invariant)
    if (auto r = requireFunction("[check].invariant", *scenario.invariant); !r) return r.error();
  for (size_t i = 0; i < scenario.hostWrites.size(); ++i) {
    const HostWrite& w = scenario.hostWrites[i];
    auto site = resolveSite(base, w.target);
    if (!site)
      return badInput(fmt::format("{}: [[host_write]][{}].target: '{}' is not a function (+offset inside "
                                  "it) of {}", scenario.path, i, echoText(w.target), fileName(scenario.base)));
    // The store must land in the image's memory: found here, not 40 s into exploring.
    const uint32_t at = site->function->begin + site->offset;
    const SectionInfo* section = base.sectionAt(at);
    if (!section || w.bytes.size() > section->end() - at)
      return badInput(fmt::format("{}: [[host_write]][{}].bytes: {} bytes at {} (RVA 0x{:x}) run past the end of "
                                  "section {} of {} (RVA 0x{:x})", scenario.path, i, w.bytes.size(), echoText(w.target),
                                  at, section ? section->name : "?", fileName(scenario.base), section ? section->end() : 0));
  }
  if (!scenario.patches.empty()) {
    auto patched = preparePatches(scenario, base, *inputs);
    if (!patched) return patched.error();
  }
  if (auto r = resolveWatched(scenario, *inputs); !r) return r.error();
  const bool anythingWatched = !scenario.hostWrites.empty() || !scenario.explore.watch.empty() || !scenario.patches.empty();
  inputs->points = scenario.explore.points.value_or(anythingWatched ? PointsMode::kWatched : PointsMode::kAll);
  if (inputs->points == PointsMode::kWatched && !anythingWatched)
    return badInput(fmt::format("{}: [explore].points: 'watched' but nothing is watched (no "
                                "[[host_write]] and no [explore].watch)", scenario.path));

  inputs->scenarioSha256 = sha256OfFile(scenario.path);
  inputs->baseSha256 = sha256OfFile(scenario.base);
  return std::shared_ptr<const ScenarioInputs>(std::move(inputs));
}

Session::~Session() = default;

RunRecord Session::run(DecisionSource& source, bool recordTrace) {
  RunRecord record = scheduler_->run(source, recordTrace);
  if (monitor_) {
    record.stepsWithThreadInWindow = monitor_->exercise().stepsWithThreadInWindow;
    record.patchedCalls = monitor_->exercise().patchedCalls;
  }
  return record;
}

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const ScenarioInputs> inputs,
                                                 bool trackFootprints) {
  std::unique_ptr<Session> session(new Session());
  session->inputs_ = inputs;
  const Scenario& scenario = inputs->scenario;
  const PeImage& image = *inputs->base;
  auto machine = Machine::create(*image.arch);
  if (!machine) return machine.error();
  session->machine_ = std::move(machine).value();
  Machine& m = *session->machine_;
  auto loaded = loadScenarioImages(m, *inputs);
  if (!loaded) return loaded.error();
  auto address = [&](const std::string& name) { return loaded->address(image.findFunction(name)->begin); };

  ScheduleSetup setup;
  const uint64_t entry = address(scenario.threadEntry);
  for (uint32_t i = 0; i < scenario.threadCount; ++i) setup.threads.push_back({entry, i});
  setup.threadBudget = scenario.threadBudget;
  if (scenario.invariant) {
    setup.invariantEntry = address(*scenario.invariant);
    setup.invariantName = *scenario.invariant;
  }
  std::vector<AddressRange> watched;
  for (const HostWrite& w : scenario.hostWrites) {
    const SiteName site = *resolveSite(image, w.target);
    const uint64_t at = loaded->address(site.function->begin + site.offset);
    setup.plan.steps.push_back(StoreStep{.address = at, .bytes = w.bytes, .label = w.target});
    const uint64_t window = scenario.explore.window;
    watched.push_back({at - window, at + w.bytes.size() + window});
  }
  if (!inputs->patches.empty()) {
    setup.plan = inputs->plan;
    // int3-3step: a thread at the transient int3 continues in the replacement (the
    // resume-inside defect continues right after the int3, in the half-written jump).
    if (scenario.protocol == ProtocolKind::kInt3ThreeStep)
      for (const PatchSite& site : inputs->sites)
        setup.breakpointRedirects.emplace_back(site.entry,
                                               scenario.defect == ProtocolDefect::kResumeInside ? site.entry + 1 : site.replacement);
    const uint64_t window = scenario.explore.window;
    for (const PatchSite& site : inputs->sites) {
      watched.push_back({site.entry - kBytesBeforeEntry - window, site.entry + kBytesBeforeEntry + window});
      watched.push_back({site.scratch, site.scratch + kScratchPerSite});
      // Arrivals at the replacement decide whether a call was new (C5, C6, C8).
      watched.push_back({site.replacement, site.replacement + 1});
    }
    PropertyOptions options;
    options.idc = scenario.arm64.idc;
    options.dic = scenario.arm64.dic;
    options.reverse = scenario.reverse;
    options.ignore = scenario.ignore;
    options.fetchModel = scenario.arm64.model;
    options.fetchCoherent = scenario.arm64.fetchCoherent;
    // C5 results: pure functions' direct callers resume at watched return sites.
    for (size_t i = 0; i < scenario.functions.size(); ++i) {
      if (!scenario.functions[i].pure) continue;
      PureSite pure{i, returnSitesOf(image, inputs->sites[i].entry)};
      for (uint64_t r : pure.returnSites) watched.push_back({r, r + 1});
      options.pure.push_back(std::move(pure));
    }
    if (!options.pure.empty()) {
      auto reference = ScratchReference::create(inputs);
      if (!reference) return reference.error();
      session->reference_ = std::move(reference).value();
      options.reference = session->reference_.get();
    }
    session->monitor_ = std::make_unique<PropertyMonitor>(*image.arch, inputs->sites, inputs->plan, options);
  }
  watched.insert(watched.end(), inputs->watched.begin(), inputs->watched.end());
  if (auto r = m.watchInstructions(watched, inputs->points == PointsMode::kAll); !r) return r.error();
  if (trackFootprints) {
    // Shared data: the writable sections of every image. Stacks and TEBs are per thread.
    std::vector<AddressRange> shared = inputs->sharedData;
    // Code the patcher stores to can also be read as data (literal pools, a guest
    // checking its own prologue): those reads must conflict with the stores.
    shared.insert(shared.end(), watched.begin(), watched.end());
    if (auto r = m.trackDataAccesses(shared); !r) return r.error();
  }
  session->process_ = std::make_unique<Process>(m, scenario.stackBytes);
  // Thread areas are mapped before the snapshot so every schedule starts from them zeroed.
  for (uint32_t i = 0; i < scenario.threadCount; ++i)
    if (auto spawned = session->process_->spawn(0, 0); !spawned) return spawned.error();
  session->process_->reset();
  session->scheduler_ = std::make_unique<Scheduler>(m, *session->process_, m.snapshot(), std::move(setup));
  session->scheduler_->setMonitor(session->monitor_.get());
  return session;
}

}  // namespace hph
