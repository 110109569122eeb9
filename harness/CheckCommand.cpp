#include "harness/CheckCommand.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness/Diagnostics.h"
#include "harness/IntegerArgument.h"
#include "harness/explore/Explorer.h"
#include "harness/explore/ReplayToken.h"
#include "harness/report/ChromeTrace.h"
#include "harness/report/ScheduleText.h"

namespace hph {
namespace {

using nlohmann::json;

struct Shard {
  uint32_t index = 0;
  uint32_t count = 1;
};

Result<Shard> parseShard(const std::string& text) {
  const size_t slash = text.find('/');
  auto index = parseInteger(text.substr(0, slash));
  auto count = slash == std::string::npos ? std::nullopt : parseInteger(text.substr(slash + 1));
  if (!index || !count || *count == 0 || *count > 100000 || *index >= *count)
    return badInput(fmt::format("--shard '{}': expected I/N with 0 <= I < N", text));
  return Shard{static_cast<uint32_t>(*index), static_cast<uint32_t>(*count)};
}

bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

std::string_view pointsName(PointsMode mode) { return mode == PointsMode::kAll ? "all" : "watched"; }

// What one scenario came to, for the exit code, the terminal and the JSON report.
struct ScenarioOutcome {
  json report;
  int exitCode = kExitHolds;
};

ScenarioOutcome checkScenario(const std::string& path, const CheckOptions& options, Shard shard) {
  ScenarioOutcome outcome;
  auto refuse = [&](const Error& error) {
    reportError(error);
    outcome.exitCode = exitCodeFor(error.status);
    outcome.report = {{"file", path},
                      {"verdict", error.status == Status::kInternal ? "internal-error" : "bad-input"},
                      {"message", error.message},
                      {"as_expected", false},
                      {"timing", json::object()}};
    return outcome;
  };
  auto scenario = loadScenario(path);
  if (!scenario) return refuse(scenario.error());
  auto inputs = prepareScenario(*scenario);
  if (!inputs) {
    // "refused" canaries: bad input caught before running is what they expect.
    if (scenario->expect == "refused" && inputs.error().status == Status::kBadInput) {
      fmt::print("PASS {}: refused as expected: {}\n", scenario->name, inputs.error().message);
      outcome.report = {{"name", scenario->name}, {"file", path}, {"verdict", "refused"},
                        {"expect", scenario->expect}, {"as_expected", true},
                        {"message", inputs.error().message}, {"timing", json::object()}};
      return outcome;
    }
    return refuse(inputs.error());
  }

  const ExploreSettings& settings = scenario->explore;
  ExploreOptions exploreOptions;
  exploreOptions.strategy = settings.strategy;
  if (options.strategy) {
    auto kind = parseStrategy(*options.strategy);
    if (!kind) return refuse(badInput(fmt::format("--strategy '{}': not random, pct or exhaustive", *options.strategy)));
    exploreOptions.strategy = *kind;
  }
  exploreOptions.schedules = options.schedules.value_or(settings.schedules.value_or(
      exploreOptions.strategy == StrategyKind::kExhaustive ? kDefaultExhaustiveCap : kDefaultSampledSchedules));
  exploreOptions.preemptionBound = options.preemptionBound.value_or(settings.preemptionBound);
  exploreOptions.seed = options.seed.value_or(settings.seed);
  exploreOptions.depth = options.depth.value_or(settings.depth);
  exploreOptions.maxTime = options.maxTime.value_or(settings.maxTime);
  exploreOptions.reduction = settings.reduction;
  exploreOptions.switchProbability = settings.switchProbability;
  exploreOptions.shardIndex = shard.index;
  exploreOptions.shardCount = shard.count;
  exploreOptions.jobs = options.jobs.value_or(settings.jobs);
  if (exploreOptions.jobs == 0) exploreOptions.jobs = availableCpus();
  if (exploreOptions.schedules == 0) return refuse(badInput("--schedules: must be positive"));
  if (exploreOptions.depth == 0) return refuse(badInput("--depth: must be at least 1"));
  const bool terminal = isatty(STDERR_FILENO);
  if (terminal)
    exploreOptions.progress = [name = scenario->name](uint64_t n, double seconds) {
      fmt::print(stderr, "\r\033[K{}: {} schedules, {:.1f} s", name, n, seconds);
    };

  const ExploreResult result = hph::explore(inputs.value(), exploreOptions);
  if (terminal) fmt::print(stderr, "\r\033[K");
  if (result.error) return refuse(*result.error);

  const bool violated = result.counterexample.has_value();
  // A plan that gave up while running (stop-the-world out of retries) is a refusal.
  const bool refused = violated && result.counterexample->violation->property == "refused";
  const std::string verdict = refused ? "refused" : violated ? "violation:" + result.counterexample->violation->property : "holds";
  const bool asExpected = verdict == scenario->expect;
  outcome.exitCode = asExpected ? kExitHolds : refused ? kExitBadInput : kExitViolated;

  std::string bound;
  if (exploreOptions.strategy == StrategyKind::kExhaustive)
    bound = fmt::format(", preemption bound {}", exploreOptions.preemptionBound);
  else if (exploreOptions.strategy == StrategyKind::kPct)
    bound = fmt::format(", depth {}", exploreOptions.depth);
  std::string coverage = fmt::format("{} schedule{}", result.schedules, result.schedules == 1 ? "" : "s");
  if (exploreOptions.strategy == StrategyKind::kExhaustive)
    coverage += result.exhausted ? " (exhausted)" : fmt::format(" (not exhausted: {})", result.stoppedBy);
  else if (result.stoppedBy == "max-time")
    coverage += " (stopped by --max-time)";
  if (shard.count > 1) coverage += fmt::format(", shard {}/{}", shard.index, shard.count);
  fmt::print("{} {}: {}{} — {}{}, seed {}, {}, {:.2f} s\n", asExpected ? "PASS" : "FAIL", scenario->name,
             violated ? verdict : "holds", asExpected ? (scenario->expect == "holds" ? "" : " (as expected)")
                                                     : fmt::format(" (expected {})", scenario->expect),
             strategyName(exploreOptions.strategy), bound, exploreOptions.seed, coverage, result.seconds);

  json exploration = {{"strategy", strategyName(exploreOptions.strategy)},
                      {"schedules", result.schedules},
                      {"exhausted", result.exhausted},
                      {"stopped_by", result.stoppedBy},
                      {"preemption_bound", exploreOptions.preemptionBound},
                      {"bound_reached", result.boundReached},
                      {"depth", exploreOptions.depth},
                      {"seed", exploreOptions.seed},
                      {"points", pointsName(inputs.value()->points)},
                      {"reduction", exploreOptions.reduction == Reduction::kNone ? "none" : "sleep-sets"},
                      {"pruned", result.pruned},
                      {"shard", fmt::format("{}/{}", shard.index, shard.count)}};
  outcome.report = {{"name", scenario->name},
                    {"file", path},
                    {"arch", scenario->arch},
                    {"expect", scenario->expect},
                    {"verdict", violated ? "violated" : "holds"},
                    {"as_expected", asExpected},
                    {"exploration", exploration},
                    {"inputs", {{"scenario_sha256", inputs.value()->scenarioSha256},
                                {"base_sha256", inputs.value()->baseSha256}}},
                    {"timing", {{"seconds", result.seconds}, {"jobs", exploreOptions.jobs}}}};
  if (!violated) return outcome;

  const RunRecord& run = *result.counterexample;
  ReplayToken token{path, std::vector<uint8_t>(inputs.value()->inputsDigest.begin(),
                                               inputs.value()->inputsDigest.begin() + ReplayToken::kDigestBytes),
                    run.decisions};
  const std::string replay = token.encode();
  fmt::print("  {}: {}\n", run.violation->property, run.violation->message);
  fmt::print("  counterexample: {} preemption{}, {} scheduling points; the schedule (instructions, actor, how it ended):\n",
             run.preemptions, run.preemptions == 1 ? "" : "s", run.points);
  fmt::print("{}", describeSchedule(run));
  fmt::print("  replay: hph replay {}\n", replay);
  json counterexample = {{"property", run.violation->property},
                         {"message", run.violation->message},
                         {"actor", actorName(run.violation->actor)},
                         {"preemptions", run.preemptions},
                         {"points", run.points},
                         {"decisions", run.decisions},
                         {"replay", replay}};
  if (options.traceDir) {
    std::error_code ec;
    std::filesystem::create_directories(*options.traceDir, ec);
    const std::string base = (std::filesystem::path(*options.traceDir) / scenario->name).string();
    if (!writeFile(base + ".trace.json", chromeTraceJson(run, scenario->name, replay)) ||
        !writeFile(base + ".replay", replay + "\n"))
      return refuse(badInput(fmt::format("--trace-dir {}: cannot write there", *options.traceDir)));
    fmt::print("  trace: {}.trace.json\n", base);
    counterexample["trace_file"] = base + ".trace.json";
  }
  outcome.report["counterexample"] = counterexample;
  return outcome;
}

}  // namespace

int runCheck(const CheckOptions& options) {
  Shard shard;
  if (options.shard) {
    auto parsed = parseShard(*options.shard);
    if (!parsed) return reportError(parsed.error());
    shard = *parsed;
  }
  const auto start = std::chrono::steady_clock::now();
  json scenarios = json::array();
  bool badInput = false, internal = false, unexpected = false;
  for (const std::string& path : options.scenarios) {
    ScenarioOutcome outcome = checkScenario(path, options, shard);
    badInput |= outcome.exitCode == kExitBadInput;
    internal |= outcome.exitCode == kExitInternal;
    unexpected |= outcome.exitCode == kExitViolated;
    scenarios.push_back(std::move(outcome.report));
  }
  const int exitCode = badInput ? kExitBadInput : internal ? kExitInternal : unexpected ? kExitViolated : kExitHolds;
  if (options.jsonPath) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    json report = {{"schema", "hph-check/1"},
                   {"hph_version", HPH_VERSION_STRING},
                   {"scenarios", scenarios},
                   {"exit_code", exitCode},
                   {"timing", {{"seconds", seconds}}}};
    if (!writeFile(*options.jsonPath, report.dump(2) + "\n"))
      return reportError(hph::badInput(fmt::format("--json {}: cannot write", *options.jsonPath)));
  }
  return exitCode;
}

}  // namespace hph
