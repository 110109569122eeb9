#include "harness/HybridCheck.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "patch/Protocol.h"

namespace hph {

Result<HybridCheckResult> checkHybrid(const ScenarioInputs& inputs) {
  const auto started = std::chrono::steady_clock::now();
  const Scenario& scenario = inputs.scenario;
  HybridCheckResult result;
  std::vector<HybridFinding> stores = checkHybridStores(inputs.plan, scenario.arch, *inputs.base, inputs.layout);
  for (const Property p : {Property::kH3, Property::kH2})
    for (const HybridFinding& f : stores)
      if (f.property == p) result.findings.push_back(f);
  HybridRunSetup setup{.base = inputs.base.get(),
                       .layout = &inputs.layout,
                       .plan = &inputs.plan,
                       .planArch = scenario.arch,
                       .args = scenario.chpeCallArgs,
                       .stale = scenario.staleEngine,
                       .reverse = scenario.reverse};
  if (scenario.reverse) {
    // Where the patch ends and its unpatch begins: the plan the protocol makes without it.
    ProtocolOptions forward = inputs.protocolOptions;
    forward.reverse = false;
    auto patch = buildPlan(*scenario.protocol, archOf(scenario.arch), inputs.layout.sites, forward);
    if (!patch) return patch.error();
    setup.patchSteps = patch->steps.size();
  }
  setup.declaredCallers = inputs.declaredCallers;
  auto run = runHybridPlan(setup);
  if (!run) return run.error();
  result.run = std::move(run).value();
  for (const Property p : {Property::kH4, Property::kH1})
    for (const HybridFinding& f : result.run.findings)
      if (f.property == p) result.findings.push_back(f);
  // [check] ignore: not reported (as for the other properties).
  std::erase_if(result.findings, [&](const HybridFinding& f) {
    return std::find(scenario.ignore.begin(), scenario.ignore.end(), f.property) != scenario.ignore.end();
  });
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

std::string describeHybridPaths(const HybridCheckResult& result, const ScenarioInputs& inputs) {
  const HybridRunResult& run = result.run;
  // A reversed plan has three states to show: before it, with the patch in place, after
  // the unpatch; H1 judges the last two.
  const bool reversed = run.patched.size() == run.after.size() && !run.patched.empty();
  std::string out = reversed ? "  entry paths: before the plan -> with the patch in place -> after the unpatch\n"
                             : "  entry paths: before the plan -> after it\n";
  for (size_t i = 0; i < run.after.size(); ++i) {
    const PathOutcome& o = run.after[i];
    std::string reach = i < run.before.size() ? std::string(pathReachName(run.before[i].reach)) : "?";
    if (reversed) reach += " -> " + std::string(pathReachName(run.patched[i].reach));
    reach += " -> " + std::string(pathReachName(o.reach));
    out += fmt::format("    {:<12} {:<84} {}{}\n", inputs.layout.sites[o.site].name, o.path.name, reach,
                       o.path.callers.empty() ? "" : "  (taken by " + o.path.callers + ")");
  }
  return out;
}

nlohmann::json hybridRunJson(const HybridCheckResult& result, const ScenarioInputs& inputs) {
  const HybridRunResult& run = result.run;
  nlohmann::json paths = nlohmann::json::array();
  // Which engine ran the code a path stopped at: only one that reached the replacement or
  // the old body stopped at a probe (null otherwise).
  const auto engineOf = [](const PathOutcome& o) {
    const bool probed = o.reach == PathReach::kNew || o.reach == PathReach::kOld;
    return probed ? nlohmann::json(o.onArm64 ? "arm64" : "x64") : nlohmann::json();
  };
  for (size_t i = 0; i < run.after.size(); ++i) {
    const PathOutcome& o = run.after[i];
    nlohmann::json path = {{"function", inputs.layout.sites[o.site].name},
                           {"path", o.path.name},
                           {"callers", o.path.callers},
                           {"before", i < run.before.size() ? pathReachName(run.before[i].reach) : ""},
                           {"after", pathReachName(o.reach)},
                           {"engine", engineOf(o)},
                           {"detail", o.detail}};
    // A reversed plan: with the patch in place, before its unpatch.
    if (i < run.patched.size()) {
      path["patched"] = pathReachName(run.patched[i].reach);
      path["patched_engine"] = engineOf(run.patched[i]);
    }
    paths.push_back(std::move(path));
  }
  nlohmann::json findings = nlohmann::json::array();
  for (const HybridFinding& f : result.findings)
    findings.push_back({{"property", propertyId(f.property)}, {"message", f.message}});
  return {{"strategy", "serial"},
          {"site", hybridSiteName(inputs.scenario.hybridSite)},
          {"stores", result.run.stores},
          {"calls", result.run.calls},
          {"paths", paths},
          {"findings", findings}};
}

}  // namespace hph
