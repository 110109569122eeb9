#include "harness/ReplayCommand.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "harness/Diagnostics.h"
#include "harness/HybridCheck.h"
#include "harness/explore/Explorer.h"
#include "harness/explore/JobLimit.h"
#include "harness/explore/ReplayToken.h"
#include "harness/report/ChromeTrace.h"
#include "harness/report/ScheduleText.h"
#include "harness/scenario/Limits.h"
#include "support/EchoText.h"
#include "support/InputFile.h"

namespace hph {
namespace {

// "hph1." (an older format, refused with a word) or "hph2.": a token, not a file name
// that happens to start with "hph".
bool isReplayToken(std::string_view text) { return text.starts_with("hph1.") || text.starts_with("hph2."); }

// A token given directly, or the file that holds one: a .replay file (the token on its
// first line) or a Chrome trace written by `check --trace-dir` (otherData.replay).
Result<std::string> tokenText(const std::string& argument) {
  if (isReplayToken(argument)) return argument;
  // Bounded, and regular files only: `replay /dev/zero` or a FIFO is refused, not read.
  auto contents = readInputText(argument, limits::kMaxReplayFileBytes);
  if (!contents) {
    if (contents.error().message.find("cannot open") == std::string::npos) return contents.error();
    return badInput(fmt::format("{}: neither a replay token (hph2.…) nor a readable file", echoText(argument)));
  }
  const std::string& text = *contents;
  if (isReplayToken(text)) return text.substr(0, text.find('\n'));
  const auto trace = nlohmann::json::parse(text, nullptr, false);
  if (trace.is_discarded() || !trace.is_object() || !trace.contains("otherData"))
    return badInput(fmt::format("{}: holds no replay token", echoText(argument)));
  const nlohmann::json& other = trace["otherData"];
  if (!other.is_object() || !other.contains("replay"))
    return badInput(fmt::format("{}: otherData.replay: missing (holds no replay token)", echoText(argument)));
  if (!other["replay"].is_string())
    return badInput(fmt::format("{}: otherData.replay: expected a string (a replay token), not {}", echoText(argument),
                                other["replay"].type_name()));
  return other["replay"].get<std::string>();
}

// A hybrid scenario's token holds no decisions: its run is serial, and replaying it runs
// the same checks again (HybridCheck).
int replayHybrid(const ScenarioInputs& inputs, const ReplayOptions& options) {
  if (options.tracePath)
    return reportError(badInput("--trace: a hybrid scenario's serial run has no schedule to trace"));
  auto result = checkHybrid(inputs);
  if (!result) return reportError(result.error());
  const std::string verdict =
      result->findings.empty() ? "holds" : "violation:" + std::string(propertyId(result->findings[0].property));
  if (options.json) {
    nlohmann::json out = {{"scenario", inputs.scenario.path},
                          {"verdict", result->findings.empty() ? "holds" : "violated"},
                          {"hybrid", hybridRunJson(*result, inputs)}};
    if (!result->findings.empty())
      out["violation"] = {{"property", propertyId(result->findings[0].property)},
                          {"message", result->findings[0].message}};
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    fmt::print("{}: {} — serial hybrid run\n", inputs.scenario.name, verdict);
    for (const HybridFinding& f : result->findings) fmt::print("  {}: {}\n", propertyId(f.property), f.message);
    fmt::print("{}", describeHybridPaths(*result, inputs));
  }
  return result->findings.empty() ? kExitHolds : kExitViolated;
}

}  // namespace

int runReplay(const ReplayOptions& options) {
  auto text = tokenText(options.token);
  if (!text) return reportError(text.error());
  if (text->starts_with("hph1."))
    return reportError(badInput("replay token: made by an older hph (hph1.); run hph check again for a new one"));
  auto token = ReplayToken::decode(*text);
  if (!token) return reportError(badInput(fmt::format("replay token: malformed ('{}')", echoText(*text, 40))));
  // The token names its scenario by absolute path; --scenario gives another copy, and
  // the content digests decide whether it is the same.
  const std::string path = options.scenario.value_or(token->scenarioPath);
  if (!options.scenario && !std::filesystem::exists(token->scenarioPath))
    return reportError(badInput(fmt::format("replay token: its scenario {} does not exist here (give --scenario FILE)",
                                            echoText(token->scenarioPath))));
  auto scenario = loadScenario(path);
  if (!scenario) return reportError(scenario.error());
  auto inputs = prepareScenario(*scenario);
  if (!inputs) return reportError(inputs.error());
  if (const std::string changed = token->changedInput(*inputs.value()); !changed.empty())
    return reportError(badInput(fmt::format("replay token: {}: {}", path, changed)));
  if (scenario->hybrid) return replayHybrid(*inputs.value(), options);
  // One engine for the run, one more for C5's reference calls with pure functions.
  const bool pure =
      std::any_of(scenario->functions.begin(), scenario->functions.end(), [](const FunctionMap& f) { return f.pure; });
  if (auto room = checkRoomForEngines(pure ? 2 : 1); !room) return reportError(room.error());
  bool diverged = false;
  auto run = replaySchedule(inputs.value(), token->decisions, &diverged);
  if (!run) return reportError(run.error());
  if (diverged) return reportError(badInput("replay token: its decisions do not fit this scenario's schedule"));
  if (options.tracePath) {
    std::ofstream out(*options.tracePath, std::ios::binary);
    out << chromeTraceJson(*run, scenario->name, *text);
    if (!out) return reportError(badInput(fmt::format("--trace {}: cannot write", *options.tracePath)));
  }
  if (options.json) {
    nlohmann::json out = {{"scenario", path},
                          {"verdict", run->violation ? "violated" : "holds"},
                          {"preemptions", run->preemptions},
                          {"points", run->points},
                          {"exit_codes", run->exitCodes},
                          {"instructions", run->instructions}};
    if (run->violation)
      out["violation"] = {
          {"property", propertyId(run->violation->property)},
          {"message", run->violation->message},
          {"actor", actorName(run->violation->actor)},
          {"instruction", run->violation->instruction},
          {"step", run->violation->step ? nlohmann::json(*run->violation->step + 1) : nlohmann::json(nullptr)}};
    if (run->invariantValue) out["invariant_value"] = *run->invariantValue;
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    fmt::print("{}: {} — {} preemption{}, {} scheduling points, {} instructions\n", scenario->name,
               run->violation ? "violation:" + std::string(propertyId(run->violation->property)) : "holds",
               run->preemptions, run->preemptions == 1 ? "" : "s", run->points, run->instructions);
    if (run->violation) {
      fmt::print("  {}: {}\n", propertyId(run->violation->property), run->violation->message);
      if (const std::string site = describeViolationSite(*run->violation); !site.empty())
        fmt::print("  where: {}\n", site);
    }
    fmt::print("{}", describeSchedule(*run));
  }
  return run->violation ? kExitViolated : kExitHolds;
}

}  // namespace hph
