#include "harness/ReplayCommand.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "harness/Diagnostics.h"
#include "harness/explore/Explorer.h"
#include "harness/explore/ReplayToken.h"
#include "harness/report/ChromeTrace.h"
#include "harness/report/ScheduleText.h"
#include "harness/report/ScheduleText.h"

namespace hph {
namespace {

// A token given directly, or the file that holds one: a .replay file (the token on its
// first line) or a Chrome trace written by `check --trace-dir` (otherData.replay).
Result<std::string> tokenText(const std::string& argument) {
  if (argument.starts_with("hph")) return argument;
  std::ifstream in(argument);
  if (!in) return badInput(fmt::format("{}: neither a replay token (hph2.…) nor a readable file", argument));
  std::stringstream contents;
  contents << in.rdbuf();
  const std::string text = contents.str();
  if (text.starts_with("hph")) return text.substr(0, text.find('\n'));
  const auto trace = nlohmann::json::parse(text, nullptr, false);
  if (!trace.is_discarded() && trace.contains("otherData") && trace["otherData"].contains("replay"))
    return trace["otherData"]["replay"].get<std::string>();
  return badInput(fmt::format("{}: holds no replay token", argument));
}

}  // namespace

int runReplay(const ReplayOptions& options) {
  auto text = tokenText(options.token);
  if (!text) return reportError(text.error());
  if (text->starts_with("hph1."))
    return reportError(badInput("replay token: made by an older hph (hph1.); run hph check again for a new one"));
  auto token = ReplayToken::decode(*text);
  if (!token) return reportError(badInput(fmt::format("replay token: malformed ('{}')", text->substr(0, 40))));
  // The token names its scenario by absolute path; --scenario gives another copy, and
  // the content digests decide whether it is the same.
  const std::string path = options.scenario.value_or(token->scenarioPath);
  if (!options.scenario && !std::filesystem::exists(token->scenarioPath))
    return reportError(badInput(fmt::format("replay token: its scenario {} does not exist here (give --scenario FILE)",
                                            token->scenarioPath)));
  auto scenario = loadScenario(path);
  if (!scenario) return reportError(scenario.error());
  auto inputs = prepareScenario(*scenario);
  if (!inputs) return reportError(inputs.error());
  if (const std::string changed = token->changedInput(*inputs.value()); !changed.empty())
    return reportError(badInput(fmt::format("replay token: {}: {}", path, changed)));
  bool diverged = false;
  auto run = replaySchedule(inputs.value(), token->decisions, &diverged);
  if (!run) return reportError(run.error());
  if (diverged)
    return reportError(badInput("replay token: its decisions do not fit this scenario's schedule"));
  if (options.tracePath) {
    std::ofstream out(*options.tracePath, std::ios::binary);
    out << chromeTraceJson(*run, scenario->name, *text);
    if (!out) return reportError(badInput(fmt::format("--trace {}: cannot write", *options.tracePath)));
  }
  if (options.json) {
    nlohmann::json out = {{"scenario", token->scenarioPath},
                          {"verdict", run->violation ? "violated" : "holds"},
                          {"preemptions", run->preemptions},
                          {"points", run->points},
                          {"exit_codes", run->exitCodes},
                          {"instructions", run->instructions}};
    if (run->violation)
      out["violation"] = {{"property", run->violation->property},
                          {"message", run->violation->message},
                          {"actor", actorName(run->violation->actor)},
                          {"instruction", run->violation->instruction},
                          {"step", run->violation->step ? nlohmann::json(*run->violation->step + 1) : nlohmann::json(nullptr)}};
    if (run->invariantValue) out["invariant_value"] = *run->invariantValue;
    fmt::print("{}\n", out.dump(2));
  } else {
    fmt::print("{}: {} — {} preemption{}, {} scheduling points, {} instructions\n", scenario->name,
               run->violation ? "violation:" + run->violation->property : "holds", run->preemptions,
               run->preemptions == 1 ? "" : "s", run->points, run->instructions);
    if (run->violation) {
      fmt::print("  {}: {}\n", run->violation->property, run->violation->message);
      if (const std::string site = describeViolationSite(*run->violation); !site.empty()) fmt::print("  where: {}\n", site);
    }
    fmt::print("{}", describeSchedule(*run));
  }
  return run->violation ? kExitViolated : kExitHolds;
}

}  // namespace hph
