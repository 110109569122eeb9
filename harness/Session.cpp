#include "harness/Session.h"

#include <fmt/format.h>

#include <charconv>
#include <filesystem>

#include "harness/Digest.h"

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
    std::string_view digits = text.substr(plus + 1);
    int base = 10;
    if (digits.starts_with("0x")) { digits.remove_prefix(2); base = 16; }
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), site.offset, base);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
    name = text.substr(0, plus);
  }
  site.function = image.findFunction(name);
  if (!site.function || site.offset >= site.function->end - site.function->begin) return std::nullopt;
  return site;
}

constexpr std::string_view kHphVersion = "hph " HPH_VERSION_STRING;
constexpr uint64_t kImageAlignment = 0x10000;
constexpr uint64_t kScratchBytes = 0x10000;
constexpr uint64_t kScratchPerSite = 0x100;
constexpr uint32_t kBytesBeforeEntry = 16;
constexpr std::string_view kRefPrefix = "__ref_";

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

const ExportInfo* findExport(const PeImage& image, std::string_view name) {
  for (const ExportInfo& e : image.exports)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace

Result<std::shared_ptr<const ScenarioInputs>> prepareScenario(const Scenario& scenario) {
  auto inputs = std::make_shared<ScenarioInputs>();
  inputs->scenario = scenario;
  auto image = readPeImage(scenario.base);
  if (!image) return image.error();
  if (image->arch->name() != scenario.arch)
    return badInput(fmt::format("{}: arch: scenario says {} but {} is {}", scenario.path, scenario.arch,
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
  for (const std::string& w : scenario.explore.watch)
    if (auto r = requireFunction("[explore].watch", w); !r) return r.error();
  for (size_t i = 0; i < scenario.hostWrites.size(); ++i) {
    const HostWrite& w = scenario.hostWrites[i];
    auto site = resolveSite(base, w.target);
    if (!site)
      return badInput(fmt::format("{}: [[host_write]][{}].target: '{}' is not a function (+offset inside "
                                  "it) of {}", scenario.path, i, w.target, fileName(scenario.base)));
  }
  if (!scenario.patch.empty()) {
    auto patch = readPeImage(scenario.patch);
    if (!patch) return patch.error();
    if (patch->arch != base.arch)
      return badInput(fmt::format("{}: patch: {} is {}, the base is {}", scenario.path, fileName(scenario.patch),
                                  patch->arch->name(), base.arch->name()));
    inputs->patch = std::make_shared<const PeImage>(std::move(patch).value());
    const PeImage& p = *inputs->patch;
    for (const ExportInfo& e : p.exports)
      if (e.name.starts_with(kRefPrefix) && !findExport(base, e.name.substr(kRefPrefix.size())))
        return badInput(fmt::format("{}: patch: {} exports {} but {} exports no {}", scenario.path,
                                    fileName(scenario.patch), e.name, fileName(scenario.base),
                                    e.name.substr(kRefPrefix.size())));
    // The patch loads right after the base (within +-2 GiB / +-128 MiB of every site), and
    // the plans' trampolines and veneers right after the patch.
    inputs->patchBase = alignUp(base.imageBase + base.sizeOfImage, kImageAlignment);
    inputs->scratchBase = alignUp(inputs->patchBase + p.sizeOfImage, kImageAlignment);
    for (size_t i = 0; i < scenario.functions.size(); ++i) {
      const FunctionMap& map = scenario.functions[i];
      const FunctionInfo* target = base.findFunction(map.target);
      const FunctionInfo* replacement = p.findFunction(map.replacement);
      if (!target)
        return badInput(fmt::format("{}: [[functions]][{}].target: '{}' is not a function of {}", scenario.path, i,
                                    map.target, fileName(scenario.base)));
      if (!replacement)
        return badInput(fmt::format("{}: [[functions]][{}].replacement: '{}' is not a function of {}", scenario.path,
                                    i, map.replacement, fileName(scenario.patch)));
      PatchSite site;
      site.name = map.target;
      site.entry = base.imageBase + target->begin;
      site.code = base.bytesAt(target->begin, target->end - target->begin);
      const SectionInfo* section = base.sectionAt(target->begin);
      const uint32_t beforeStart = std::max(section->virtualAddress, target->begin - std::min(target->begin, kBytesBeforeEntry));
      site.before = base.bytesAt(beforeStart, target->begin - beforeStart);
      site.replacement = inputs->patchBase + replacement->begin;
      site.scratch = inputs->scratchBase + i * kScratchPerSite;
      inputs->sites.push_back(std::move(site));
    }
    auto plan = buildPlan(scenario.protocol, *base.arch, inputs->sites, {scenario.reverse});
    if (!plan) return badInput(fmt::format("{}: [protocol]: {}", scenario.path, plan.error().message));
    inputs->plan = std::move(plan).value();
    inputs->patchSha256 = sha256OfFile(scenario.patch);
  }
  const bool anythingWatched = !scenario.hostWrites.empty() || !scenario.explore.watch.empty() || !scenario.patch.empty();
  inputs->points = scenario.explore.points.value_or(anythingWatched ? PointsMode::kWatched : PointsMode::kAll);
  if (inputs->points == PointsMode::kWatched && !anythingWatched)
    return badInput(fmt::format("{}: [explore].points: 'watched' but nothing is watched (no "
                                "[[host_write]] and no [explore].watch)", scenario.path));

  inputs->scenarioSha256 = sha256OfFile(scenario.path);
  inputs->baseSha256 = sha256OfFile(scenario.base);
  Sha256 digest;
  digest.update(kHphVersion);
  digest.update(inputs->scenarioSha256);
  digest.update(inputs->baseSha256);
  digest.update(inputs->patchSha256);
  inputs->inputsDigest = digest.finish();
  return std::shared_ptr<const ScenarioInputs>(std::move(inputs));
}

Session::~Session() = default;

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
  auto loaded = loadImage(m, image);
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
    setup.plan.steps.push_back(StoreStep{at, w.bytes, w.target});
    const uint64_t window = scenario.explore.window;
    watched.push_back({at - window, at + w.bytes.size() + window});
  }
  if (inputs->patch) {
    auto patch = loadImage(m, *inputs->patch, inputs->patchBase);
    if (!patch) return patch.error();
    // Secure-hotpatch cells: the patch's __ref_X points at the base's X.
    for (const ExportInfo& e : inputs->patch->exports) {
      if (!e.name.starts_with(kRefPrefix)) continue;
      const uint64_t target = loaded->address(findExport(image, e.name.substr(kRefPrefix.size()))->rva);
      m.writeGuest(patch->address(e.rva), {reinterpret_cast<const uint8_t*>(&target), 8});
    }
    auto scratch = m.map(inputs->scratchBase, kScratchBytes, kAll, "hotpatch area");
    if (!scratch) return scratch.error();
    setup.plan = inputs->plan;
    if (scenario.protocol == "int3-3step")
      for (const PatchSite& site : inputs->sites) setup.breakpointRedirects.emplace_back(site.entry, site.replacement);
    const uint64_t window = scenario.explore.window;
    for (const PatchSite& site : inputs->sites) {
      watched.push_back({site.entry - kBytesBeforeEntry - window, site.entry + kBytesBeforeEntry + window});
      watched.push_back({site.scratch, site.scratch + kScratchPerSite});
    }
  }
  for (const std::string& name : scenario.explore.watch) {
    const FunctionInfo* f = image.findFunction(name);
    watched.push_back({loaded->address(f->begin), loaded->address(f->end)});
  }
  if (auto r = m.watchInstructions(watched, inputs->points == PointsMode::kAll); !r) return r.error();
  if (trackFootprints) {
    // Shared data: the image's writable sections. Stacks and TEBs are per thread.
    std::vector<AddressRange> shared;
    for (const SectionInfo& s : image.sections)
      if (s.characteristics & 0x80000000u)
        shared.push_back({loaded->address(s.virtualAddress), loaded->address(s.end())});
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
  return session;
}

}  // namespace hph
