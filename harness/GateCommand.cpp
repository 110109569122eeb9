#include "harness/GateCommand.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "harness/Diagnostics.h"
#include "harness/gate/ChildCommand.h"
#include "harness/gate/ReleaseManifest.h"
#include "harness/report/GateReport.h"
#include "harness/scenario/Scenario.h"
#include "patch/ProtocolRegistry.h"
#include "support/Digest.h"

namespace hph {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::optional<json> readJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// A file name for a scenario's or function's own report: letters, digits, '-', '.', '_'.
std::string fileStem(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  return out.empty() ? "_" : out;
}

struct GateRun {
  const ReleaseManifest& manifest;
  const GateOptions& options;
  fs::path out;
  json items = json::array();  // one per stage x scenario x function
  bool badInput = false;

  void add(GateStage stage, const ReleaseImages& images, const std::string& function, const std::string& scenario,
           const std::string& verdict, const std::string& detail, const std::string& report) {
    items.push_back({{"stage", gateStageName(stage)},
                     {"arch", archOf(images.arch).name()},
                     {"base", images.base},
                     {"function", function},
                     {"scenario", scenario},
                     {"verdict", verdict},
                     {"detail", detail},
                     {"report", report}});
    fmt::print("  {:<11} {:<6} {:<12} {:<34} {}{}\n", gateStageName(stage), archOf(images.arch).name(), function,
               scenario, verdict, detail.empty() ? "" : ": " + detail);
    std::fflush(stdout);
  }

  // A stage command's exit: 2 is bad input the stage found (its message is on stderr).
  void noteStatus(const ChildExit& exit) {
    if (exit.status == kExitBadInput) badInput = true;
  }
};

// The patched functions a scenario names (a patch table's scenario names none: its
// table decides, and the scenario stands for them).
std::vector<std::string> functionsOf(const Scenario& s) {
  std::vector<std::string> out;
  for (const FunctionMap& f : s.functions) out.push_back(f.target);
  if (out.empty()) out.push_back("(patch table)");
  return out;
}

void runCheckStage(GateRun& run, const std::vector<std::pair<const ReleaseImages*, Scenario>>& scenarios) {
  fmt::print("== check: explore {} scenarios (log: {})\n", scenarios.size(), (run.out / "logs/check.txt").string());
  std::fflush(stdout);
  std::vector<std::string> args{"check"};
  for (const auto& [images, s] : scenarios) args.push_back(s.path);
  for (const auto& [flag, file] : {std::pair{"--json", "check.json"},
                                   {"--junit", "check.junit.xml"},
                                   {"--sarif", "check.sarif"},
                                   {"--html", "check.html"},
                                   {"--trace-dir", "traces"}}) {
    args.push_back(flag);
    args.push_back((run.out / file).string());
  }
  const auto& budget = run.manifest.check;
  if (budget.maxTime) args.insert(args.end(), {"--max-time", fmt::format("{}", *budget.maxTime)});
  if (budget.schedules) args.insert(args.end(), {"--schedules", std::to_string(*budget.schedules)});
  if (run.options.jobs) args.insert(args.end(), {"--jobs", std::to_string(*run.options.jobs)});
  if (run.options.progressEvery) args.insert(args.end(), {"--progress", fmt::format("{}", *run.options.progressEvery)});
  const ChildExit exit = runHphCommand(args, (run.out / "logs/check.txt").string());
  run.noteStatus(exit);
  const std::optional<json> report = readJson(run.out / "check.json");
  for (const auto& [images, s] : scenarios) {
    const json* found = nullptr;
    if (report && report->contains("scenarios"))
      for (const json& r : (*report)["scenarios"])
        if (r.value("file", "") == s.path) found = &r;
    std::string verdict = "fail", detail;
    if (!found) {
      detail = exit.error.empty() ? fmt::format("hph check ended with status {} and reported nothing", exit.status)
                                  : "hph check could not start: " + exit.error;
    } else if (found->value("verdict", "") == "holds") {
      verdict = "pass";
    } else {
      detail = found->value("verdict", "?");
      if (found->contains("counterexample") && (*found)["counterexample"].contains("violation"))
        detail += ": " + (*found)["counterexample"]["violation"].value("message", "");
    }
    for (const std::string& function : functionsOf(s))
      run.add(GateStage::kCheck, *images, function, s.name, verdict, detail, "check.json");
  }
}

void runTrampolineStage(GateRun& run, const std::vector<std::pair<const ReleaseImages*, Scenario>>& scenarios) {
  // Only protocols that run displaced instructions from a trampoline need one; each
  // (base, function, protocol) is built and checked once.
  std::map<std::string, bool> done;
  fmt::print("== trampoline: every patched function whose protocol moves threads into a trampoline\n");
  std::fflush(stdout);
  for (const auto& [images, s] : scenarios) {
    if (!s.protocol || !protocolInfo(*s.protocol).needsTrampoline) continue;
    for (const FunctionMap& f : s.functions) {
      const std::string protocol(protocolName(*s.protocol));
      const std::string key = images->base + "|" + f.target + "|" + protocol;
      if (done.count(key)) continue;
      done[key] = true;
      const std::string file =
          fmt::format("trampoline/{}.{}.{}.json", archOf(images->arch).name(), fileStem(f.target), protocol);
      const ChildExit exit = runHphCommand({"trampoline", images->base, "--function", f.target, "--protocol", protocol,
                                            "--states", std::to_string(run.manifest.trampoline.states), "--json"},
                                           (run.out / file).string());
      run.noteStatus(exit);
      const std::optional<json> r = readJson(run.out / file);
      std::string verdict = "fail", detail;
      if (!r)
        detail = fmt::format("hph trampoline ended with status {} and reported nothing", exit.status);
      else if (r->value("verdict", "") == "relocated")
        verdict = "pass", detail = fmt::format("{} states checked", r->value("states_checked", 0));
      else
        detail = r->value("verdict", "?") + (r->value("reason", "").empty() ? "" : ": " + r->value("reason", ""));
      run.add(GateStage::kTrampoline, *images, f.target, s.name, verdict, detail, file);
    }
  }
}

void runOnHostStage(GateRun& run, const std::vector<std::pair<const ReleaseImages*, Scenario>>& scenarios) {
  fmt::print("== onhost: apply every plan that held to real threads ({} patcher, {} threads)\n",
             run.manifest.onhost.patcher, run.manifest.onhost.threads);
  std::fflush(stdout);
  for (const auto& [images, s] : scenarios) {
    bool held = true;
    for (const json& item : run.items)
      if (item["stage"] == "check" && item["scenario"] == s.name && item["verdict"] != "pass") held = false;
    const std::string file = fmt::format("onhost/{}.json", fileStem(s.name));
    if (!held) {
      for (const std::string& function : functionsOf(s))
        run.add(GateStage::kOnHost, *images, function, s.name, "skipped", "its exploration did not hold", "");
      continue;
    }
    const auto& o = run.manifest.onhost;
    const ChildExit exit = runHphCommand({"onhost", s.path, "--verified", (run.out / "check.json").string(),
                                          "--patcher", o.patcher, "--threads", std::to_string(o.threads), "--duration",
                                          fmt::format("{}", o.duration), "--json", (run.out / file).string()},
                                         (run.out / "logs" / fmt::format("onhost-{}.txt", fileStem(s.name))).string());
    run.noteStatus(exit);
    const std::optional<json> r = readJson(run.out / file);
    std::string verdict = "fail", detail;
    const json* scenario =
        r && r->contains("scenarios") && !(*r)["scenarios"].empty() ? &(*r)["scenarios"][0] : nullptr;
    if (!scenario)
      detail = fmt::format("hph onhost ended with status {} and reported nothing", exit.status);
    else if (scenario->value("verdict", "") == "holds" && exit.status == 0)
      verdict = "pass";
    else
      detail = scenario->value("verdict", "?") +
               (scenario->value("message", "").empty() ? "" : ": " + scenario->value("message", ""));
    for (const std::string& function : functionsOf(s))
      run.add(GateStage::kOnHost, *images, function, s.name, verdict, detail, file);
  }
}

}  // namespace

int runGate(const GateOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  auto manifest = loadReleaseManifest(options.manifest);
  if (!manifest) return reportError(manifest.error());
  std::vector<std::pair<const ReleaseImages*, Scenario>> scenarios;
  for (const ReleaseImages& images : manifest->images)
    for (const std::string& path : images.scenarios) {
      auto s = loadScenario(path);
      if (!s) return reportError(s.error());
      scenarios.emplace_back(&images, std::move(*s));
    }
  const fs::path out(options.outDir);
  std::error_code ec;
  for (const char* sub : {"", "logs", "trampoline", "onhost"})
    if (fs::create_directories(out / sub, ec); ec)
      return reportError(badInput(fmt::format("--out: {}: {}", echoText((out / sub).string(), 200), ec.message())));

  fmt::print("hph gate: release '{}' ({}), {} scenarios on {} image set(s); reports in {}\n", manifest->release,
             options.manifest, scenarios.size(), manifest->images.size(), out.string());
  GateRun run{*manifest, options, out};
  runCheckStage(run, scenarios);
  if (!run.badInput && manifest->trampoline.run) runTrampolineStage(run, scenarios);
  if (!run.badInput && manifest->onhost.run) runOnHostStage(run, scenarios);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  json document = gateDocument(*manifest, run.items, seconds);
  const int exitCode = run.badInput ? kExitBadInput : document["ship"].get<bool>() ? kExitHolds : kExitViolated;
  document["exit_code"] = exitCode;
  if (auto written = writeGateReports(out.string(), document); !written) return reportError(written.error());
  fmt::print("\n{}", gateSummaryText(document));
  return exitCode;
}

}  // namespace hph
