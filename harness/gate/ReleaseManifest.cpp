#include "harness/gate/ReleaseManifest.h"

#include <fmt/format.h>

#include <filesystem>

#include "harness/scenario/Scenario.h"
#include "harness/scenario/TableReader.h"
#include "support/FileName.h"

namespace hph {

using scenario_toml::TableReader;

std::string_view gateStageName(GateStage stage) {
  switch (stage) {
  case GateStage::kCheck: return "check";
  case GateStage::kTrampoline: return "trampoline";
  case GateStage::kOnHost: return "onhost";
  }
  return "?";
}

namespace {

// A stage table: `run = false` leaves the stage out; anything else is its budget.
Result<bool> stageRuns(TableReader& stage) {
  std::optional<bool> run;
  HPH_TRY_ASSIGN(run, stage.boolean("run"));
  return run.value_or(true);
}

// The scenario named at `field` explores these very images, and expects its patch to hold.
// `onHostStage`: the gate applies it on the host too.
Result<void> checkScenario(const std::string& manifest, const std::string& field, const ReleaseImages& images,
                           const std::string& path, bool onHostStage) {
  auto scenario = loadScenario(path);
  if (!scenario) return scenario.error();
  const auto refuse = [&](const std::string& why) {
    return badInput(fmt::format("{}: {}: {}: {}", echoText(manifest, 200), field, echoText(path, 200), why));
  };
  if (scenario->hybrid)
    return refuse("arch = \"arm64ec\": hybrid scenarios are checked by hph check only (the gate's on-host stage "
                  "runs no hybrid process)");
  if (scenario->arch != images.arch)
    return refuse(
        fmt::format("arch {} is not the image's {}", archOf(scenario->arch).name(), archOf(images.arch).name()));
  if (!sameFile(scenario->base, images.base))
    return refuse(
        fmt::format("base {} is not the release's {}", echoText(scenario->base, 200), echoText(images.base, 200)));
  bool samePatches = scenario->patches.size() == images.patches.size();
  for (size_t i = 0; samePatches && i < images.patches.size(); ++i)
    samePatches = sameFile(scenario->patches[i], images.patches[i]);
  if (!samePatches) return refuse("patch is not the release's patch images (the same files, in the same order)");
  // A release gate asks whether the patch is safe: a scenario expecting a violation is a
  // canary for the harness, not a question about the release.
  if (scenario->expect.kind != VerdictKind::kHolds)
    return refuse(fmt::format("expects {}; a release's scenarios expect holds", verdictText(scenario->expect)));
  // Nor may it ask a smaller question: every schedule within its bound, every property, the
  // protocol as shipped, the fetch model of real cores.
  if (scenario->explore.strategy != StrategyKind::kExhaustive)
    return refuse(fmt::format("[explore] strategy = \"{}\": a sampled search cannot show a patch safe; a release's "
                              "scenarios explore exhaustively",
                              strategyName(scenario->explore.strategy)));
  if (!scenario->ignore.empty()) {
    std::string hidden;
    for (const Property p : scenario->ignore) hidden += fmt::format("{}{}", hidden.empty() ? "" : ", ", propertyId(p));
    return refuse(fmt::format("[check] ignore = {}: a release's scenarios check every property", hidden));
  }
  if (scenario->defect != ProtocolDefect::kNone)
    return refuse("[protocol] defect: a deliberately broken protocol is a canary, not the release's patch");
  if (!scenario->staticChecks)
    return refuse("[check] static_checks = false: the protocol would skip the refusals it makes of unsafe sites");
  if (!scenario->arm64.model)
    return refuse("[arm64] fetch_model = false: without it stale instruction fetches go unchecked");
  // On the host, only its counters tell old calls from new: without them a run whose calls
  // never reached the new code, or still ran the old code after the plan, would pass.
  if (onHostStage && (!scenario->onHostCalls || !scenario->onHostNewCalls))
    return refuse("no [onhost] calls and new_calls: the on-host stage could not tell whether calls after the plan "
                  "ran the new code (name the counters, or set the manifest's [onhost] run = false)");
  return {};
}

}  // namespace

Result<ReleaseManifest> loadReleaseManifest(const std::string& path) {
  auto parsed = scenario_toml::parseTomlFile(path, limits::kMaxScenarioBytes);
  if (!parsed) return parsed.error();
  const toml::table& root = *parsed;
  ReleaseManifest m;
  m.path = path;
  const std::filesystem::path directory = std::filesystem::path(path).parent_path();
  auto resolve = [&](const std::string& p) {
    return std::filesystem::path(p).is_absolute() ? p : (directory / p).lexically_normal().string();
  };

  TableReader top(path, &root, "");
  std::optional<std::string> release;
  HPH_TRY_ASSIGN(release, top.string("release"));
  if (!release || release->empty()) return top.error("release", "missing: the release's name");
  m.release = *release;

  // The stages before the images: what a scenario must have depends on them (the on-host
  // stage's counters).
  const toml::table *checkTable, *trampolineTable, *onHostTable;
  HPH_TRY_TABLE(checkTable, top.table("check"));
  HPH_TRY_TABLE(trampolineTable, top.table("trampoline"));
  HPH_TRY_TABLE(onHostTable, top.table("onhost"));
  {
    // Exploration always runs: a gate that explored nothing would have nothing to say.
    TableReader t(path, checkTable, "[check].");
    HPH_TRY_ASSIGN(m.check.maxTime, t.number("max_time", 0.001, limits::kMaxTimeSeconds));
    HPH_TRY_ASSIGN(m.check.schedules, t.integer("schedules", 1, limits::kMaxSchedules));
    if (auto r = t.rejectUnknown(); !r) return r.error();
  }
  {
    TableReader t(path, trampolineTable, "[trampoline].");
    HPH_TRY_TABLE(m.trampoline.run, stageRuns(t));
    std::optional<uint64_t> states;
    HPH_TRY_ASSIGN(states, t.integer("states", limits::kMinStates, limits::kMaxStates));
    m.trampoline.states = static_cast<uint32_t>(states.value_or(m.trampoline.states));
    if (auto r = t.rejectUnknown(); !r) return r.error();
  }
  {
    TableReader t(path, onHostTable, "[onhost].");
    HPH_TRY_TABLE(m.onhost.run, stageRuns(t));
    std::optional<std::string> patcher;
    HPH_TRY_ASSIGN(patcher, t.string("patcher"));
    if (patcher && *patcher != "in-process" && *patcher != "external")
      return t.error("patcher", fmt::format("'{}' is not in-process or external", echoText(*patcher, 40)));
    m.onhost.patcher = patcher.value_or(m.onhost.patcher);
    std::optional<uint64_t> threads;
    HPH_TRY_ASSIGN(threads, t.integer("threads", 1, 64));
    m.onhost.threads = static_cast<uint32_t>(threads.value_or(m.onhost.threads));
    std::optional<double> duration;
    HPH_TRY_ASSIGN(duration, t.number("duration", 0.001, 3600));
    m.onhost.duration = duration.value_or(m.onhost.duration);
    if (auto r = t.rejectUnknown(); !r) return r.error();
  }

  std::vector<const toml::table*> imageTables;
  HPH_TRY_TABLE(imageTables, top.tables("images"));
  if (imageTables.empty()) return top.error("[[images]]", "missing: at least one base image and its patch");
  for (size_t i = 0; i < imageTables.size(); ++i) {
    TableReader t(path, imageTables[i], fmt::format("[[images]][{}].", i));
    ReleaseImages images;
    std::optional<std::string> arch, base;
    HPH_TRY_ASSIGN(arch, t.string("arch"));
    const Arch* named = arch ? archByName(*arch) : nullptr;
    if (!named) return t.error("arch", arch ? fmt::format("'{}' is not x64 or arm64", echoText(*arch, 40)) : "missing");
    images.arch = named->kind();
    HPH_TRY_ASSIGN(base, t.string("base"));
    if (!base) return t.error("base", "missing: the base image the patch applies to");
    images.base = resolve(*base);
    if (const toml::node* patch = imageTables[i]->get("patch"); patch && patch->is_string()) {
      std::optional<std::string> one;
      HPH_TRY_ASSIGN(one, t.string("patch"));
      images.patches.push_back(resolve(*one));
    } else {
      std::vector<std::string> series;
      HPH_TRY_TABLE(series, t.strings("patch"));
      for (const std::string& p : series) images.patches.push_back(resolve(p));
    }
    if (images.patches.empty()) return t.error("patch", "missing: the patch image (or a cumulative series)");
    for (const std::string& file : [&] {
           std::vector<std::string> all{images.base};
           all.insert(all.end(), images.patches.begin(), images.patches.end());
           return all;
         }())
      if (std::error_code ec; !std::filesystem::is_regular_file(file, ec))
        return t.error(file == images.base ? "base" : "patch",
                       fmt::format("{}: not a readable file", echoText(file, 200)));
    std::vector<std::string> scenarios;
    HPH_TRY_TABLE(scenarios, t.strings("scenarios"));
    if (scenarios.empty()) return t.error("scenarios", "missing: the scenarios that explore this patch");
    for (size_t s = 0; s < scenarios.size(); ++s) {
      const std::string scenario = resolve(scenarios[s]);
      if (auto ok = checkScenario(path, fmt::format("{}[{}]", t.field("scenarios"), s), images, scenario, m.onhost.run);
          !ok)
        return ok.error();
      images.scenarios.push_back(scenario);
    }
    if (auto r = t.rejectUnknown(); !r) return r.error();
    m.images.push_back(std::move(images));
  }

  if (auto r = top.rejectUnknown(); !r) return r.error();
  return m;
}

}  // namespace hph
