#include "harness/PlanCommand.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "harness/Diagnostics.h"
#include "harness/scenario/PreparedScenario.h"
#include "plan/PlanJson.h"
#include "support/HexText.h"

namespace hph {

using nlohmann::json;

int runPlan(const PlanOptions& options) {
  auto scenario = loadScenario(options.scenario);
  if (!scenario) return reportError(scenario.error());
  auto inputs = prepareScenario(*scenario);
  if (!inputs) return reportError(inputs.error());
  const ScenarioInputs& in = **inputs;
  if (in.layout.sites.empty() && scenario->hostWrites.empty())
    return reportError(badInput(fmt::format("{}: patch: the scenario applies no patch", options.scenario)));
  if (options.json) {
    json sites = json::array();
    for (const PatchSite& s : in.layout.sites)
      sites.push_back({{"function", s.name},
                       {"entry", s.entry},
                       {"replacement", s.replacement},
                       {"scratch", s.scratch},
                       {"previous", s.previous ? json(*s.previous) : json(nullptr)}});
    json patches = json::array();
    for (const PatchImage& p : in.layout.patches)
      patches.push_back({{"image", p.image->path},
                         {"load_address", p.loadAddress},
                         {"sequence_number", p.sequenceNumber},
                         {"sha256", p.sha256}});
    json steps = json::array();
    for (const Step& step : in.plan.steps) {
      json j = stepToJson(step);
      j["description"] = describeStep(step);
      steps.push_back(std::move(j));
    }
    json out = {{"scenario", options.scenario},
                {"arch", std::string(scenario->archText())},
                {"protocol", std::string(scenario->protocolText())},
                {"reverse", scenario->reverse},
                {"hotpatch_area", in.layout.scratchBase},
                {"patches", patches},
                {"sites", sites},
                {"steps", steps}};
    if (scenario->hybrid) out["site"] = hybridSiteName(scenario->hybridSite);
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return kExitHolds;
  }
  fmt::print("{}: {}{} protocol {}{}, hotpatch area at {:#x}\n", scenario->name, scenario->archText(),
             scenario->hybrid ? fmt::format(" ({} site, {} code)", hybridSiteName(scenario->hybridSite),
                                            archOf(scenario->arch).name())
                              : "",
             scenario->protocolText(), scenario->reverse ? " (then reversed)" : "", in.layout.scratchBase);
  for (const PatchImage& p : in.layout.patches)
    fmt::print("  patch {} loaded at {:#x}{}\n", p.image->path, p.loadAddress,
               p.sequenceNumber ? fmt::format(" (sequence number {})", p.sequenceNumber) : "");
  for (const PatchSite& s : in.layout.sites)
    fmt::print("  site {}: entry {:#x} -> replacement {:#x}{}\n", s.name, s.entry, s.replacement,
               s.previous ? fmt::format(" (retargeted from {:#x})", *s.previous) : "");
  for (size_t i = 0; i < in.plan.steps.size(); ++i) fmt::print("  {:>3}. {}\n", i + 1, describeStep(in.plan.steps[i]));
  return kExitHolds;
}

}  // namespace hph
