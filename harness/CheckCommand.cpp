#include "harness/CheckCommand.h"
#include "harness/ProgressLine.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness/Diagnostics.h"
#include "harness/HybridCheck.h"
#include "harness/Interruption.h"
#include "harness/ShardSelection.h"
#include "harness/WorkerProcess.h"
#include "harness/explore/Explorer.h"
#include "harness/explore/JobLimit.h"
#include "harness/explore/ReplayToken.h"
#include "harness/report/ChromeTrace.h"
#include "harness/report/ExerciseJson.h"
#include "harness/report/Provenance.h"
#include "harness/report/ReportFiles.h"
#include "harness/report/ScenarioJson.h"
#include "harness/report/ScheduleText.h"
#include "harness/report/VerdictTable.h"
#include "harness/scenario/Limits.h"
#include "harness/scenario/Vacuity.h"
#include "support/EchoText.h"
#include "support/FileName.h"
#include "support/NumberText.h"

namespace hph {
namespace {

using nlohmann::json;

// What [check] ignore hides, by id: its report cases say "not checked", not "passed".
json ignoredProperties(const Scenario& scenario) {
  json out = json::array();
  for (const Property p : scenario.ignore) out.push_back(std::string(propertyId(p)));
  return out;
}

// How much a search that was cut short covered, and what cut it.
std::string describeCutShort(const ExploreResult& result, const ExploreSettings& settings) {
  const std::string& by = result.stoppedBy;
  std::string why = by == "max-time"       ? fmt::format("stopped by --max-time {} s", settings.maxTime)
                    : by == "schedule cap" ? fmt::format("stopped at the cap of {} schedules", settings.scheduleLimit())
                    : by == "signal"       ? std::string("interrupted by a signal")
                                           : "stopped: " + (by.empty() ? std::string("unknown") : by);
  if (settings.strategy == StrategyKind::kExhaustive) {
    if (result.levelsCompleted == 0)
      why += fmt::format("; not even preemption level 0 was searched in full, of bound {}", settings.preemptionBound);
    else
      why += fmt::format("; preemption levels 0-{} searched in full, level {} partial{}, of bound {}",
                         result.levelsCompleted - 1, result.levelsCompleted,
                         result.partialLevelShare >= 0
                             ? fmt::format(" (~{} searched, estimated)", percentText(result.partialLevelShare))
                             : "",
                         settings.preemptionBound);
  } else {
    why += fmt::format("; {} of {} schedules run", result.schedules, settings.scheduleLimit());
  }
  return why;
}

// What one scenario came to, for the exit code, the terminal and the JSON report.
struct ScenarioOutcome {
  json report;
  int exitCode = kExitHolds;
};

// Fault injection for the tests of worker isolation: HPH_TEST_WORKER_DIES="NAME:SIGNAL"
// makes the worker exploring scenario NAME raise SIGNAL at its first progress beat.
std::optional<int> injectedDeath(const std::string& scenarioName) {
  const char* spec = std::getenv("HPH_TEST_WORKER_DIES");
  if (!spec) return std::nullopt;
  const std::string text(spec);
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || text.substr(0, colon) != scenarioName) return std::nullopt;
  return std::atoi(text.c_str() + colon + 1);
}

// A violating run as the reports give it, with the token that replays it.
json counterexampleJson(const ScenarioInputs& inputs, const RunRecord& run) {
  return {{"property", propertyId(run.violation->property)},
          {"message", run.violation->message},
          {"actor", actorName(run.violation->actor)},
          {"pc", run.violation->pc},
          {"location", locateAddress(inputs, run.violation->pc)},
          {"step", run.violation->step ? json(*run.violation->step + 1) : json(nullptr)},
          {"bytes", run.violation->bytes},
          {"instruction", run.violation->instruction},
          {"preemptions", run.preemptions},
          {"points", run.points},
          {"decisions", run.decisions},
          {"replay", ReplayToken::of(inputs, run.decisions).encode()}};
}

// A traced run's slices (who ran from when to when, in instructions retired), for the
// HTML report's timeline.
json timelineJson(const RunRecord& run) {
  json slices = json::array();
  for (const TraceSlice& s : run.trace)
    slices.push_back(
        {{"actor", actorName(s.actor)}, {"begin", s.begin}, {"end", s.end}, {"pc", s.firstPc}, {"what", s.what}});
  return slices;
}

// A hybrid scenario: one serial run (HybridCheck), no schedules. Its verdict names the
// first property found (H3, H2, H4, H1); every finding is printed and reported.
ScenarioOutcome checkHybridScenario(const std::string& path, const ScenarioInputs& inputs, Shard shard) {
  ScenarioOutcome outcome;
  const Scenario& scenario = inputs.scenario;
  auto result = checkHybrid(inputs);
  if (!result) {
    reportError(result.error());
    outcome.exitCode = exitCodeFor(result.error().status);
    outcome.report = {{"file", path},
                      {"name", scenario.name},
                      {"verdict", result.error().status == Status::kInternal ? "internal-error" : "bad-input"},
                      {"message", result.error().message},
                      {"as_expected", false},
                      {"timing", json::object()}};
    return outcome;
  }
  const bool violated = !result->findings.empty();
  const Verdict verdict = violated
                              ? Verdict{VerdictKind::kViolation, std::string(propertyId(result->findings[0].property))}
                              : Verdict{VerdictKind::kHolds, ""};
  const bool asExpected = verdict == scenario.expect;
  outcome.exitCode = asExpected ? kExitHolds : kExitViolated;
  // What a pass covers: H1-H4 less those [check] ignore hides.
  json checked = json::array();
  std::string scope;
  for (const Property p : {Property::kH1, Property::kH2, Property::kH3, Property::kH4})
    if (std::find(scenario.ignore.begin(), scenario.ignore.end(), p) == scenario.ignore.end()) {
      checked.push_back(std::string(propertyId(p)));
      scope += fmt::format("{}{}", scope.empty() ? "" : ", ", propertyId(p));
    }
  // What a serial run decides, said with the verdict: H1-H4, not the plan's atomicity
  // against threads running on both engines (not built).
  fmt::print("{} {}: {}{}{} — serial hybrid run ({} site), {} entry path{}, {} store{}, {} calls, {:.2f} s\n",
             asExpected ? "PASS" : "FAIL", scenario.name, verdictText(verdict),
             violated ? "" : " (" + (scope.empty() ? std::string("nothing") : scope) + ")",
             asExpected ? (scenario.expect.kind == VerdictKind::kHolds ? "" : " (as expected)")
                        : fmt::format(" (expected {})", verdictText(scenario.expect)),
             hybridSiteName(scenario.hybridSite), result->run.after.size(), result->run.after.size() == 1 ? "" : "s",
             result->run.stores, result->run.stores == 1 ? "" : "s", result->run.calls, result->seconds);
  for (const HybridFinding& f : result->findings) fmt::print("  {}: {}\n", propertyId(f.property), f.message);
  fmt::print("{}", describeHybridPaths(*result, inputs));
  const ReplayToken token = ReplayToken::of(inputs, {});
  if (violated) fmt::print("  replay: hph replay {}\n", token.encode());
  fmt::print("  not checked: the plan against running threads (C1-C8, X1-X3, A1-A4): guest threads on both "
             "engines are not built\n");
  outcome.report = {{"name", scenario.name},
                    {"file", path},
                    {"arch", std::string(scenario.archText())},
                    {"protocol", std::string(scenario.protocolText())},
                    {"expect", verdictText(scenario.expect)},
                    {"verdict", verdictText(verdict)},
                    {"as_expected", asExpected},
                    {"hybrid", hybridRunJson(*result, inputs)},
                    {"checked_properties", checked},
                    {"ignored", ignoredProperties(scenario)},
                    {"vacuity", {{"patched", !inputs.layout.sites.empty()}, {"vacuous", false}}},
                    {"provenance", scenarioProvenance(inputs)},
                    {"timing", {{"seconds", result->seconds}, {"jobs", 1}}}};
  // Every shard runs it whole (it is cheap and deterministic); hph merge keeps the first.
  outcome.report["hybrid"]["shard"] = fmt::format("{}/{}", shard.index, shard.count);
  if (violated)
    outcome.report["counterexample"] = {{"property", propertyId(result->findings[0].property)},
                                        {"message", result->findings[0].message},
                                        {"location", {{"logical", scenario.name}}},
                                        {"replay", token.encode()}};
  return outcome;
}

ScenarioOutcome checkScenario(const std::string& path, const CheckOptions& options, Shard shard, WorkerBeacon* beacon) {
  ScenarioOutcome outcome;
  auto refuse = [&](const Error& error) {
    reportError(error);
    outcome.exitCode = exitCodeFor(error.status);
    outcome.report = {{"file", path},
                      {"name", std::filesystem::path(path).stem().string()},
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
    // "refused" canaries: a protocol precondition that fails is what they expect; bad
    // input (a misspelt function, a malformed image) never is.
    if (scenario->expect.kind == VerdictKind::kRefused && inputs.error().status == Status::kRefused) {
      fmt::print("PASS {}: refused as expected: {}\n", scenario->name, inputs.error().message);
      outcome.report = {{"name", scenario->name},
                        {"file", path},
                        {"verdict", "refused"},
                        {"arch", std::string(scenario->archText())},
                        {"protocol", std::string(scenario->protocolText())},
                        {"expect", verdictText(scenario->expect)},
                        {"as_expected", true},
                        {"message", inputs.error().message},
                        {"timing", json::object()}};
      return outcome;
    }
    return refuse(inputs.error());
  }
  if (scenario->hybrid) return checkHybridScenario(path, *inputs.value(), shard);

  // The scenario's [explore] with the command line's overrides; what only this run has.
  ExploreOptions exploreOptions;
  ExploreSettings& settings = exploreOptions.settings;
  settings = scenario->explore;
  if (options.strategy) {
    auto kind = parseStrategy(*options.strategy);
    if (!kind)
      return refuse(badInput(fmt::format("--strategy '{}': not random, pct or exhaustive", *options.strategy)));
    settings.strategy = *kind;
  }
  if (options.schedules) settings.schedules = *options.schedules;
  settings.preemptionBound = options.preemptionBound.value_or(settings.preemptionBound);
  settings.seed = options.seed.value_or(settings.seed);
  settings.depth = options.depth.value_or(settings.depth);
  settings.maxTime = options.maxTime.value_or(settings.maxTime);
  exploreOptions.shardIndex = shard.index;
  exploreOptions.shardCount = shard.count;
  exploreOptions.interrupted = options.interrupted;
  {
    // Clamped to the CPUs and the address-space limit before any engine opens (JobLimit.h).
    const bool pure = std::any_of(scenario->functions.begin(), scenario->functions.end(),
                                  [](const FunctionMap& f) { return f.pure; });
    auto jobs = planJobs(options.jobs.value_or(settings.jobs), pure ? 2 : 1);
    if (!jobs) return refuse(jobs.error());
    if (!jobs->note.empty()) fmt::print(stderr, "hph: note: {}: {}\n", scenario->name, jobs->note);
    settings.jobs = jobs->jobs;
  }
  if (settings.scheduleLimit() == 0) return refuse(badInput("--schedules: must be positive"));
  if (settings.depth == 0) return refuse(badInput("--depth: must be at least 1"));
  const bool terminal = isatty(STDERR_FILENO);
  if (terminal) {
    exploreOptions.progress = [name = scenario->name](const ExploreProgress& p) {
      fmt::print(stderr, "\r\033[K{}", progressText(name, p));
    };
  } else if (options.progressEvery) {
    auto last = std::make_shared<double>(0);
    exploreOptions.progress = [name = scenario->name, every = *options.progressEvery, last](const ExploreProgress& p) {
      if (p.seconds - *last < every) return;
      *last = p.seconds;
      fmt::print(stderr, "hph: {}\n", progressText(name, p));
    };
  }

  if (beacon) {
    // The beacon tells the parent how far this worker got, should it die.
    exploreOptions.progress = [shown = std::move(exploreOptions.progress), beacon,
                               death = injectedDeath(scenario->name)](const ExploreProgress& p) {
      beacon->schedules = p.schedules;
      beacon->milliseconds = static_cast<uint64_t>(p.seconds * 1000);
      if (shown) shown(p);
      if (death) raise(*death);
    };
  }
  const ExploreResult result = hph::explore(inputs.value(), exploreOptions);
  if (terminal) fmt::print(stderr, "\r\033[K");
  if (result.error) return refuse(*result.error);

  const bool violated = result.counterexample.has_value();
  // A plan that gave up while running (stop-the-world out of retries) is a refusal.
  const bool refused = violated && result.counterexample->violation->property == Property::kRefused;
  // A search cut short (time, the exhaustive cap, a signal) that found nothing answers
  // nothing: it is never a pass unless the user accepts partial results.
  const bool exhaustive = settings.strategy == StrategyKind::kExhaustive;
  const bool cutShort = !violated && (exhaustive ? !result.exhausted : !result.stoppedBy.empty());
  // "holds" must mean something: at every site of the patch, a patch step landed while a
  // thread was in its window, or calls reached its replacement. Otherwise it is vacuous, as
  // is a shard that owned no schedule.
  const bool patched = !inputs.value()->layout.sites.empty();
  const std::vector<std::string> sites = siteNames(inputs.value()->layout.sites);
  const bool unexercised = patched && !unexercisedSites(sites, result.exercise).empty();
  const bool vacuous = !violated && !cutShort && (unexercised || result.schedules == 0);
  const Verdict verdict =
      refused    ? Verdict{VerdictKind::kRefused, ""}
      : violated ? Verdict{VerdictKind::kViolation, std::string(propertyId(result.counterexample->violation->property))}
      : cutShort ? Verdict{VerdictKind::kInconclusive, ""}
      : vacuous  ? Verdict{VerdictKind::kVacuous, ""}
                 : Verdict{VerdictKind::kHolds, ""};
  const bool asExpected = verdict == scenario->expect;
  // --accept-partial: a cut-short search that found nothing may stand for "holds", never
  // for a canary's expected violation (a canary that did not fire failed).
  // Nor for a search that ran nothing, or never exercised the patch in what it ran: a part
  // of a search stands for the whole only when that part answered something.
  const bool exercisedPart = result.schedules > 0 && !unexercised;
  const bool acceptedPartial =
      cutShort && options.acceptPartial && scenario->expect.kind == VerdictKind::kHolds && exercisedPart;
  outcome.exitCode = asExpected || acceptedPartial ? kExitHolds
                     : refused                     ? kExitBadInput
                     : cutShort                    ? kExitInconclusive
                                                   : kExitViolated;

  std::string bound;
  if (exhaustive)
    bound = fmt::format(", preemption bound {}", settings.preemptionBound);
  else if (settings.strategy == StrategyKind::kPct)
    bound = fmt::format(", depth {}", settings.depth);
  std::string coverage = fmt::format("{} schedule{}", result.schedules, result.schedules == 1 ? "" : "s");
  if (exhaustive && result.exhausted)
    coverage += " (exhausted)";
  else if (cutShort)
    coverage += " (" + describeCutShort(result, settings) + ")";
  if (shard.count > 1) coverage += fmt::format(", shard {}/{}", shard.index, shard.count);
  const std::string mark = asExpected || acceptedPartial ? "PASS" : "FAIL";
  const std::string expectation = asExpected ? (scenario->expect.kind == VerdictKind::kHolds ? "" : " (as expected)")
                                  : acceptedPartial ? " (accepted: --accept-partial)"
                                                    : fmt::format(" (expected {})", verdictText(scenario->expect));
  fmt::print("{} {}: {}{} — {}{}, seed {}, {}, {:.2f} s\n", mark, scenario->name, verdictText(verdict), expectation,
             strategyName(settings.strategy), bound, settings.seed, coverage, result.seconds);
  if (!asExpected && !acceptedPartial && (refused || cutShort))
    fmt::print(stderr, "{}: {}: {}\n", path, verdictText(verdict),
               refused ? result.counterexample->violation->message : describeCutShort(result, settings));
  const Exercise& exercise = result.exercise;
  if (patched)
    fmt::print("  exercised: {} patch step{} landed with a thread inside a watched window; {} call{} reached a "
               "replacement{}\n",
               exercise.stepsWithThreadInWindow, exercise.stepsWithThreadInWindow == 1 ? "" : "s",
               exercise.patchedCalls, exercise.patchedCalls == 1 ? "" : "s",
               vacuous && result.schedules > 0 ? " — vacuous: " + describeUnexercised(sites, exercise) : "");
  if (vacuous && result.schedules == 0) fmt::print("  vacuous: this shard owned no schedule\n");

  json exploration = {
      {"strategy", strategyName(settings.strategy)},
      {"schedules", result.schedules},
      {"exhausted", result.exhausted},
      {"stopped_by", result.stoppedBy},
      {"preemption_bound", settings.preemptionBound},
      {"bound_reached", result.boundReached},
      {"levels_completed", result.levelsCompleted},
      {"partial_level_share_estimated", result.partialLevelShare >= 0 ? json(result.partialLevelShare) : json(nullptr)},
      {"cut_short", cutShort},
      {"accepted_partial", acceptedPartial},
      {"depth", settings.depth},
      {"seed", settings.seed},
      {"schedule_limit", settings.scheduleLimit()},
      {"points", pointsModeName(inputs.value()->points)},
      {"reduction", reductionName(settings.reduction)},
      {"pruned", result.pruned},
      {"shard", fmt::format("{}/{}", shard.index, shard.count)}};
  if (!exhaustive && shard.count > 1) {
    json perSchedule = json::array();
    for (const auto& [k, scheduleExercise] : result.scheduleVacuity)
      perSchedule.push_back({{"schedule", k}, {"vacuity", exerciseJson(scheduleExercise)}});
    exploration["schedule_vacuity"] = std::move(perSchedule);
  }
  if (exhaustive && shard.count > 1) {
    // What `hph merge` needs to count exactly the branches the unsharded search takes
    // (MergeCommand.h): every branch this shard searched to the end.
    json branches = json::array();
    for (const BranchTally& t : result.branchTallies) {
      json b = {{"level", t.level},
                {"branch", t.branch},
                {"named", t.named},
                {"requests", t.requests},
                {"schedules", t.schedules},
                {"pruned", t.pruned},
                {"vacuity", exerciseJson(t.exercise)}};
      if (t.counterexample) {
        b["counterexample"] = counterexampleJson(*inputs.value(), *t.counterexample);
        b["order"] = t.order;
      }
      branches.push_back(std::move(b));
    }
    exploration["branches"] = std::move(branches);
  }
  json patches = json::array();
  for (const PatchImage& p : inputs.value()->layout.patches)
    patches.push_back({{"file", p.image->path}, {"sha256", p.sha256}});
  outcome.report = {{"name", scenario->name},
                    {"file", path},
                    {"arch", std::string(scenario->archText())},
                    {"protocol", std::string(scenario->protocolText())},
                    {"expect", verdictText(scenario->expect)},
                    {"verdict", verdictText(verdict)},
                    {"as_expected", asExpected || acceptedPartial},
                    {"exploration", exploration},
                    {"ignored", ignoredProperties(*scenario)},
                    {"vacuity", vacuityJson(sites, exercise, patched, vacuous)},
                    {"provenance", scenarioProvenance(*inputs.value())},
                    {"timing", {{"seconds", result.seconds}, {"jobs", settings.jobs}}}};
  if (cutShort) outcome.report["message"] = describeCutShort(result, settings);
  if (!violated) return outcome;

  const RunRecord& run = *result.counterexample;
  const ReplayToken token = ReplayToken::of(*inputs.value(), run.decisions);
  const std::string replay = token.encode();
  fmt::print("  {}: {}\n", propertyId(run.violation->property), run.violation->message);
  if (const std::string site = describeViolationSite(*run.violation); !site.empty()) fmt::print("  where: {}\n", site);
  fmt::print(
      "  counterexample: {} preemption{}, {} scheduling points; the schedule (instructions, actor, how it ended):\n",
      run.preemptions, run.preemptions == 1 ? "" : "s", run.points);
  fmt::print("{}", describeSchedule(run));
  fmt::print("  replay: hph replay {}\n", replay);
  json counterexample = counterexampleJson(*inputs.value(), run);
  if (!run.trace.empty()) counterexample["timeline"] = timelineJson(run);
  if (options.traceDir) {
    std::error_code ec;
    std::filesystem::create_directories(*options.traceDir, ec);
    // The name is one plain path component (Scenario.cpp checks it), so these files stay
    // inside --trace-dir.
    const std::string base = (std::filesystem::path(*options.traceDir) / scenario->name).string();
    if (!writeTextFile(base + ".trace.json", chromeTraceJson(run, scenario->name, replay)) ||
        !writeTextFile(base + ".replay", replay + "\n"))
      return refuse(badInput(fmt::format("--trace-dir {}: cannot write there", *options.traceDir)));
    fmt::print("  trace: {}.trace.json\n", base);
    counterexample["trace_file"] = base + ".trace.json";
  }
  outcome.report["counterexample"] = counterexample;
  return outcome;
}

// Each report goes to its own file, and none over an input: `--json F --junit F` would
// silently replace the JSON with the XML.
Result<void> checkDistinctOutputs(const CheckOptions& options) {
  std::vector<std::pair<std::string, std::string>> files;  // (flag, path)
  if (options.jsonPath) files.emplace_back("--json", *options.jsonPath);
  if (options.junitPath) files.emplace_back("--junit", *options.junitPath);
  if (options.sarifPath) files.emplace_back("--sarif", *options.sarifPath);
  if (options.htmlPath) files.emplace_back("--html", *options.htmlPath);
  for (size_t i = 0; i < files.size(); ++i) {
    for (size_t j = i + 1; j < files.size(); ++j)
      if (sameFile(files[i].second, files[j].second))
        return badInput(fmt::format("{} {} and {} {}: the same file; each report needs its own path", files[i].first,
                                    echoText(files[i].second), files[j].first, echoText(files[j].second)));
    for (const std::string& scenario : options.scenarios)
      if (sameFile(files[i].second, scenario))
        return badInput(fmt::format("{} {}: is the scenario {}; a report must not overwrite an input", files[i].first,
                                    echoText(files[i].second), echoText(scenario)));
  }
  return {};
}

// checkScenario in a worker process (WorkerProcess.h): a worker that dies leaves an
// internal error for its scenario, and the other scenarios run on.
ScenarioOutcome checkScenarioInWorker(const std::string& path, const CheckOptions& options, Shard shard,
                                      const InterruptionScope& interruption) {
  const WorkerExit exit = runInWorker(
      [&](WorkerBeacon& beacon) {
        const ScenarioOutcome outcome = checkScenario(path, options, shard, &beacon);
        return json{{"report", outcome.report}, {"exit_code", outcome.exitCode}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
      },
      *options.interrupted, [&] { return interruption.signal(); });
  if (exit.output) {
    const json parsed = json::parse(*exit.output, nullptr, false);
    if (!parsed.is_discarded() && parsed.contains("report") && parsed.contains("exit_code"))
      return {parsed["report"], parsed["exit_code"].get<int>()};
  }
  // What the scenario file says of itself, when it can be read at all.
  const auto scenario = loadScenario(path);
  const std::string name = scenario ? scenario->name : std::filesystem::path(path).stem().string();
  std::string message;
  if (!exit.error.empty())
    message = exit.error;
  else if (exit.signal)
    message = fmt::format(
        "the exploration worker died of {} after {} schedule{} ({:.1f} s); the other scenarios and the reports are "
        "unaffected. Run this scenario alone with the same options to reproduce it",
        signalName(exit.signal), exit.schedules, exit.schedules == 1 ? "" : "s", exit.seconds);
  else
    message = fmt::format("the exploration worker exited with status {} without a verdict", exit.exitStatus);
  fmt::print("FAIL {}: internal-error — {}\n", name, message);
  fmt::print(stderr, "{}: internal error: {}\n", path, message);
  ScenarioOutcome outcome;
  outcome.exitCode = kExitInternal;
  outcome.report = {{"file", path},
                    {"name", name},
                    {"verdict", "internal-error"},
                    {"message", message},
                    {"as_expected", false},
                    {"arch", scenario ? json(std::string(scenario->archText())) : json("")},
                    {"expect", scenario ? json(verdictText(scenario->expect)) : json("-")},
                    {"worker",
                     {{"signal", exit.signal ? json(signalName(exit.signal)) : json(nullptr)},
                      {"schedules_before_death", exit.schedules}}},
                    {"timing", json::object()}};
  return outcome;
}

}  // namespace

int runCheck(const CheckOptions& given) {
  if (auto distinct = checkDistinctOutputs(given); !distinct) return reportError(distinct.error());
  // Ctrl-C or `timeout` (SIGTERM) ends the search, not the process: reports still get written.
  InterruptionScope interruption;
  CheckOptions options = given;
  if (!options.interrupted) options.interrupted = &interruption.requested();
  // The shard: --shard, or the CI engine's own variables (ShardSelection.h).
  auto selection = selectShard(options.shard, options.shardCount, processEnvironment());
  if (!selection) return reportError(selection.error());
  if (auto acknowledged = acknowledgeShard(*selection); !acknowledged) return reportError(acknowledged.error());
  const Shard shard = selection->shard;
  if (!selection->source.empty() && selection->source != "--shard")
    fmt::print(stderr, "hph: shard {}/{} (from {})\n", shard.index, shard.count, selection->source);
  const auto start = std::chrono::steady_clock::now();
  json scenarios = json::array();
  bool badInput = false, internal = false, unexpected = false, inconclusive = false;
  for (const std::string& path : options.scenarios) {
    ScenarioOutcome outcome;
    if (options.interrupted->load()) {
      // Interrupted before this scenario began: nothing of it was explored.
      // Nothing of it was explored: not even --accept-partial makes that a pass.
      outcome.exitCode = kExitInconclusive;
      outcome.report = {{"file", path},
                        {"name", std::filesystem::path(path).stem().string()},
                        {"verdict", "inconclusive"},
                        {"message", "not explored: interrupted by a signal before it began"},
                        {"as_expected", false},
                        {"timing", json::object()}};
      fmt::print("FAIL {}: inconclusive — not explored: interrupted by a signal before it began\n", path);
    } else {
      outcome = checkScenarioInWorker(path, options, shard, interruption);
    }
    badInput |= outcome.exitCode == kExitBadInput;
    internal |= outcome.exitCode == kExitInternal;
    unexpected |= outcome.exitCode == kExitViolated;
    inconclusive |= outcome.exitCode == kExitInconclusive;
    scenarios.push_back(std::move(outcome.report));
  }
  const int exitCode = badInput       ? kExitBadInput
                       : internal     ? kExitInternal
                       : unexpected   ? kExitViolated
                       : inconclusive ? kExitInconclusive
                                      : kExitHolds;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printVerdictTable(scenarios);
  json report = {
      {"schema", "hph-check/3"},         {"hph_version", hphVersion()}, {"unicorn_version", unicornVersion()},
      {"lief_version", liefVersion()},   {"scenarios", scenarios},      {"exit_code", exitCode},
      {"timing", {{"seconds", seconds}}}};
  // Which shard this is, whether or not any scenario got as far as exploring (one refused,
  // or interrupted before it began, says nothing of its own): hph merge reads it here.
  if (shard.count > 1) report["shard"] = fmt::format("{}/{}", shard.index, shard.count);
  const ReportFiles files{options.jsonPath, options.junitPath, options.sarifPath, options.htmlPath};
  if (auto written = writeReportFiles(files, report, exitCode, seconds, "hph check"); !written)
    return reportError(written.error());
  return exitCode;
}

}  // namespace hph
