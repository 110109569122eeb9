#include "harness/GateCommand.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "emu/pe/PeImage.h"
#include "harness/Diagnostics.h"
#include "harness/Interruption.h"
#include "harness/ShardSelection.h"
#include "harness/gate/CheckStageVerdict.h"
#include "harness/gate/ChildCommand.h"
#include "harness/gate/JsonReport.h"
#include "harness/gate/ReleaseManifest.h"
#include "harness/report/GateReport.h"
#include "harness/scenario/PreparedScenario.h"
#include "harness/scenario/Scenario.h"
#include "patch/ProtocolRegistry.h"
#include "support/Digest.h"

namespace hph {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A file name for a scenario's or function's own report: letters, digits, '-', '.', '_'.
std::string fileStem(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  return out.empty() ? "_" : out;
}

// One scenario of the release: its images, the scenario, and the functions it patches.
struct ReleaseScenario {
  const ReleaseImages* images;
  Scenario scenario;
  std::vector<std::string> functions;
  size_t index;  // in the manifest's order: names its own report files
};

struct GateRun {
  const ReleaseManifest& manifest;
  const GateOptions& options;
  fs::path out;
  // Sharded (count > 1), every shard explores its part of every scenario, and runs the
  // trampoline and on-host jobs whose number modulo the count is its index.
  Shard shard;
  const InterruptionScope& interruption;
  json items = json::array();  // one per stage x scenario x function
  // Every job of the trampoline and on-host stages, whichever shard runs it: hph merge
  // requires every shard to plan the same jobs and each job's items from its own shard.
  json jobs = {{"trampoline", json::array()}, {"onhost", json::array()}};
  // Why this run's check stage cannot be trusted (it crashed, wrote no report), if so.
  std::string checkBroken;
  const std::vector<std::string> shardVariables = shardVariableNames();

  std::map<std::string, std::optional<PeImage>> baseImages;  // each base read once, when a report points into it

  // The file offset of `function`'s first byte in the image at `path`, when it names one.
  std::optional<uint32_t> functionFileOffset(const std::string& path, const std::string& function) {
    auto [it, fresh] = baseImages.try_emplace(path);
    if (fresh)
      if (auto image = readPeImage(path)) it->second = std::move(*image);
    if (!it->second) return std::nullopt;
    const FunctionInfo* f = it->second->findFunction(function);
    return f ? it->second->fileOffset(f->begin, 1) : std::nullopt;
  }

  bool interrupted() const { return interruption.requested(); }
  bool sharded() const { return shard.count > 1; }
  bool mine(size_t job) const { return job % shard.count == shard.index; }
  std::string part() const { return fmt::format("{}/{}", shard.index, shard.count); }

  // `order`: the job's number within its stage (hph merge puts the shards' items in order).
  void add(GateStage stage, const ReleaseScenario& s, const std::string& function, const std::string& verdict,
           const std::string& detail, const std::string& report, size_t order) {
    const std::string arch(archOf(s.images->arch).name());
    json item = {{"stage", gateStageName(stage)},
                 {"arch", arch},
                 {"base", s.images->base},
                 {"function", function},
                 {"scenario", s.scenario.name},
                 {"file", s.scenario.path},
                 {"order", order},
                 {"verdict", verdict},
                 {"detail", detail},
                 {"report", report}};
    // Where the function's code is in the base image's file: the reports point there.
    if (auto offset = functionFileOffset(s.images->base, function)) item["file_offset"] = *offset;
    items.push_back(std::move(item));
    fmt::print("  {:<11} {:<6} {:<12} {:<34} {}{}\n", gateStageName(stage), arch, function, s.scenario.name, verdict,
               detail.empty() ? "" : ": " + detail);
    std::fflush(stdout);
  }
  void addAll(GateStage stage, const ReleaseScenario& s, const std::string& verdict, const std::string& detail,
              const std::string& report) {
    for (const std::string& function : s.functions) add(stage, s, function, verdict, detail, report, s.index);
  }

  // A stage runs whole: a CI engine's shard variables must not make it explore a part and
  // call it the whole.
  ChildExit command(const std::vector<std::string>& args, const fs::path& stdoutPath) const {
    return runHphCommand(args, stdoutPath.string(), shardVariables, &interruption.requested());
  }
};

// "status 3 (see logs/check.txt)", "killed by signal 9", "could not start: ...".
std::string endedText(const ChildExit& exit, const std::string& log) {
  if (!exit.error.empty()) return "could not start: " + exit.error;
  if (exit.status >= 128) return fmt::format("killed by signal {} (see {})", exit.status - 128, log);
  return fmt::format("status {} (see {})", exit.status, log);
}

// The functions a scenario patches, as its plan names them (a patch table's too); when
// the scenario cannot be prepared (its plan refused, say: the check stage reports that),
// the functions it names.
std::vector<std::string> functionsOf(const Scenario& s) {
  std::vector<std::string> out;
  if (auto inputs = prepareScenario(s); inputs)
    for (const PatchSite& site : (*inputs)->layout.sites)
      if (std::find(out.begin(), out.end(), site.name) == out.end()) out.push_back(site.name);
  if (out.empty())
    for (const FunctionMap& f : s.functions) out.push_back(f.target);
  if (out.empty()) out.push_back("(patch table)");
  return out;
}

void runCheckStage(GateRun& run, const std::vector<ReleaseScenario>& scenarios) {
  const std::string log = "logs/check.txt";
  fmt::print("== check: explore {} scenarios (log: {})\n", scenarios.size(), (run.out / log).string());
  std::fflush(stdout);
  std::vector<std::string> args{"check"};
  for (const ReleaseScenario& s : scenarios) args.push_back(s.scenario.path);
  constexpr std::pair<const char*, const char*> kReports[] = {
      {"--json", "check.json"}, {"--junit", "check.junit.xml"}, {"--sarif", "check.sarif"}, {"--html", "check.html"}};
  for (const auto& [flag, file] : kReports) args.insert(args.end(), {flag, (run.out / file).string()});
  args.insert(args.end(), {"--trace-dir", (run.out / "traces").string()});
  const auto& budget = run.manifest.check;
  if (budget.maxTime) args.insert(args.end(), {"--max-time", fmt::format("{}", *budget.maxTime)});
  if (budget.schedules) args.insert(args.end(), {"--schedules", std::to_string(*budget.schedules)});
  if (run.options.jobs) args.insert(args.end(), {"--jobs", std::to_string(*run.options.jobs)});
  if (run.options.progressEvery) args.insert(args.end(), {"--progress", fmt::format("{}", *run.options.progressEvery)});
  if (run.sharded()) args.insert(args.end(), {"--shard", run.part()});
  const ChildExit exit = run.command(args, run.out / log);
  // Its verdicts count only when it ended as hph check ends (0 all as expected, 1 a
  // violation, 2 bad input or a refusal, 3 a scenario's internal error, 4 cut short) and
  // wrote every report: not after a signal, or a report it could not write. Each scenario
  // is explored in a worker of its own, so one that died is that scenario's
  // `internal-error`, and fails it alone.
  std::string broken;
  if (!exit.error.empty() || exit.status < 0 || exit.status > 4)
    broken = "hph check ended with " + endedText(exit, log);
  for (const auto& [flag, file] : kReports)
    if (broken.empty() && !fs::exists(run.out / file))
      broken = fmt::format("hph check wrote no {} ({})", file, endedText(exit, log));
  run.checkBroken = broken;
  const std::optional<json> report = broken.empty() ? readJsonReport(run.out / "check.json") : std::nullopt;
  for (const ReleaseScenario& s : scenarios) {
    const json* found = nullptr;
    if (report && report->contains("scenarios"))
      for (const json& r : (*report)["scenarios"])
        if (r.value("file", "") == s.scenario.path) found = &r;
    const StageVerdict v = checkStageVerdict(found, broken, run.part());
    run.addAll(GateStage::kCheck, s, v.verdict, v.detail, "check.json");
  }
}

void runTrampolineStage(GateRun& run, const std::vector<ReleaseScenario>& scenarios) {
  // Only protocols that run displaced instructions from a trampoline need one; each
  // (base, function, protocol) is built and checked once.
  std::map<std::string, std::string> done;  // key -> its report
  fmt::print("== trampoline: every patched function whose protocol moves threads into a trampoline\n");
  std::fflush(stdout);
  for (const ReleaseScenario& s : scenarios) {
    if (!s.scenario.protocol || !protocolInfo(*s.scenario.protocol).needsTrampoline) continue;
    const std::string protocol(protocolName(*s.scenario.protocol));
    for (const std::string& function : s.functions) {
      const std::string key = s.images->base + "|" + function + "|" + protocol;
      if (done.count(key)) continue;
      const size_t job = done.size();
      done[key] = "";
      run.jobs["trampoline"].push_back({{"order", job},
                                        {"arch", archOf(s.images->arch).name()},
                                        {"base", s.images->base},
                                        {"function", function},
                                        {"protocol", protocol},
                                        {"scenario", s.scenario.name},
                                        {"file", s.scenario.path}});
      if (!run.mine(job)) continue;
      if (run.interrupted()) {
        run.add(GateStage::kTrampoline, s, function, "skipped", "interrupted before it ran", "", job);
        continue;
      }
      const std::string file = fmt::format("trampoline/{}.{}.{}.{}.json", job + 1, archOf(s.images->arch).name(),
                                           fileStem(function), protocol);
      done[key] = file;
      const ChildExit exit = run.command({"trampoline", s.images->base, "--function", function, "--protocol", protocol,
                                          "--states", std::to_string(run.manifest.trampoline.states), "--json"},
                                         run.out / file);
      const std::optional<json> r = readJsonReport(run.out / file);
      std::string verdict = "fail", detail;
      if (!r || !r->is_object())
        detail = "hph trampoline ended with " + endedText(exit, file) + " and reported nothing";
      else if (r->value("verdict", "") != "relocated")
        detail = r->value("verdict", "?") + (r->value("reason", "").empty() ? "" : ": " + r->value("reason", ""));
      else if (exit.status != 0)
        detail = "relocated, but hph trampoline ended with " + endedText(exit, file);
      // The equivalence is checked on the states the manifest asks for; states whose random
      // registers reach the patched bytes are skipped, and most of them skipped is not that.
      else if (const uint32_t checked = r->value("states_checked", 0u), asked = run.manifest.trampoline.states;
               checked == 0 || uint64_t{checked} * 2 < asked)
        detail = fmt::format("relocated, but only {} of {} entry states could be checked", checked, asked);
      else
        verdict = "pass", detail = fmt::format("{} states checked", checked);
      run.add(GateStage::kTrampoline, s, function, verdict, detail, file, job);
    }
  }
}

void runOnHostStage(GateRun& run, const std::vector<ReleaseScenario>& scenarios) {
  fmt::print("== onhost: apply every plan that held to real threads ({} patcher, {} threads)\n",
             run.manifest.onhost.patcher, run.manifest.onhost.threads);
  std::fflush(stdout);
  for (const ReleaseScenario& s : scenarios) {
    run.jobs["onhost"].push_back({{"order", s.index}, {"scenario", s.scenario.name}, {"file", s.scenario.path}});
    if (!run.mine(s.index)) continue;
    // A shard applies its plans whatever its part of the exploration found (unverified: a
    // part verifies nothing); hph merge marks them skipped where the merged one fails.
    bool held = true;
    for (const json& item : run.items)
      if (item["stage"] == "check" && item["file"] == s.scenario.path && item["verdict"] != "pass")
        held = run.sharded();
    if (!held || run.interrupted()) {
      run.addAll(GateStage::kOnHost, s, "skipped", held ? "interrupted before it ran" : "its exploration did not hold",
                 "");
      continue;
    }
    const std::string file = fmt::format("onhost/{}.{}.json", s.index + 1, fileStem(s.scenario.name));
    const std::string log = fmt::format("logs/onhost.{}.{}.txt", s.index + 1, fileStem(s.scenario.name));
    const auto& o = run.manifest.onhost;
    std::vector<std::string> args{"onhost", s.scenario.path};
    // A shard's exploration verified its part of the plan, which is no verification: the
    // plan is applied unverified, and the release ships only if the merged exploration
    // holds (hph merge).
    if (run.sharded())
      args.push_back("--unverified");
    else
      args.insert(args.end(), {"--verified", (run.out / "check.json").string()});
    args.insert(args.end(), {"--patcher", o.patcher, "--threads", std::to_string(o.threads), "--duration",
                             fmt::format("{}", o.duration), "--json", (run.out / file).string()});
    const ChildExit exit = run.command(args, run.out / log);
    const std::optional<json> r = readJsonReport(run.out / file);
    const json* scenario =
        r && r->contains("scenarios") && (*r)["scenarios"].size() == 1 ? &(*r)["scenarios"][0] : nullptr;
    std::string verdict = "fail", detail;
    if (!scenario)
      detail = "hph onhost ended with " + endedText(exit, log) + " and reported nothing";
    else if (scenario->value("verdict", "") == "holds" && exit.status == 0)
      verdict = "pass";
    else
      detail = scenario->value("verdict", "?") + " (" + endedText(exit, log) + ")";
    run.addAll(GateStage::kOnHost, s, verdict, detail, file);
  }
}

}  // namespace

int runGate(const GateOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  auto manifest = loadReleaseManifest(options.manifest);
  if (!manifest) return reportError(manifest.error());
  auto selection = selectShard(options.shard, options.shardCount, processEnvironment());
  if (!selection) return reportError(selection.error());
  std::vector<ReleaseScenario> scenarios;
  for (const ReleaseImages& images : manifest->images)
    for (const std::string& path : images.scenarios) {
      auto s = loadScenario(path);
      if (!s) return reportError(s.error());
      std::vector<std::string> functions = functionsOf(*s);
      scenarios.push_back({&images, std::move(*s), std::move(functions), scenarios.size()});
    }
  const fs::path out(options.outDir);
  if (auto prepared = prepareGateDirectory(out.string()); !prepared) return reportError(prepared.error());

  fmt::print("hph gate: release '{}' ({}), {} scenarios on {} image set(s); reports in {}\n", manifest->release,
             options.manifest, scenarios.size(), manifest->images.size(), out.string());
  if (auto acknowledged = acknowledgeShard(*selection); !acknowledged) return reportError(acknowledged.error());
  // Ctrl-C or SIGTERM: the stage running stops as it would on its own (its exploration
  // inconclusive), the jobs not begun are skipped, and every report is still written.
  const InterruptionScope interruption;
  GateRun run{*manifest, options, out, selection->shard, interruption};
  if (run.sharded())
    fmt::print("shard {} ({}): this part of every exploration, and every {}th trampoline and on-host job\n", run.part(),
               selection->source, run.shard.count);
  runCheckStage(run, scenarios);
  if (manifest->trampoline.run) runTrampolineStage(run, scenarios);
  if (manifest->onhost.run) runOnHostStage(run, scenarios);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const json shard = run.sharded() ? json{{"shard", run.part()}, {"source", selection->source}} : json();
  json document = gateDocument(gateRelease(*manifest), run.items, seconds, shard);
  // Interrupted, the gate did not finish what it was asked, whatever its items say (a
  // signal after the last stage command ended leaves every item as it was).
  if (run.interrupted()) {
    document["interrupted"] = interruption.signal() == SIGTERM ? "SIGTERM" : "SIGINT";
    document["ship"] = false;
    if (run.sharded()) document["part_failed"] = true;
  }
  document["jobs"] = run.jobs;
  if (!run.checkBroken.empty()) document["check_broken"] = run.checkBroken;
  // Pins the exploration this gate judged: hph merge refuses a shard's check.json that is
  // not the one its gate.json was made with.
  else if (const std::string digest = sha256OfFile((out / "check.json").string()); !digest.empty())
    document["check_sha256"] = digest;
  // 0 says ship and nothing else: a shard in which nothing failed is a part, not a
  // release (4, as hph check says of a search that is not the whole); 1 when its part failed.
  const int exitCode = run.sharded() ? (document["part_failed"].get<bool>() ? kExitViolated : kExitInconclusive)
                       : document["ship"].get<bool>() ? kExitHolds
                                                      : kExitViolated;
  document["exit_code"] = exitCode;
  if (auto written = writeGateReports(out.string(), document); !written) return reportError(written.error());
  fmt::print("\n{}", gateSummaryText(document));
  return exitCode;
}

}  // namespace hph
