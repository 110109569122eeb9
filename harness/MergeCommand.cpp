#include "harness/MergeCommand.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "harness/Diagnostics.h"
#include "harness/MergeGate.h"
#include "harness/ShardSelection.h"
#include "harness/report/ExerciseJson.h"
#include "harness/report/ReportFiles.h"
#include "harness/report/VerdictTable.h"
#include "harness/scenario/Vacuity.h"
#include "support/FileName.h"
#include "support/Status.h"

namespace hph {
namespace {

using nlohmann::json;

struct ShardReport {
  std::string path;
  Shard shard;
  json scenarios;
};

// What must be the same in every shard's report of one scenario: the inputs (digests)
// and the search (strategy, seed, bounds), or the shards explored different things.
constexpr const char* kSameProvenance[] = {"scenario_sha256", "base_sha256", "patch_sha256"};
constexpr const char* kSameExploration[] = {"strategy", "seed", "preemption_bound", "depth", "reduction", "points"};

Result<ShardReport> readShardReport(const std::string& path) {
  std::ifstream in(path);
  if (!in) return badInput(fmt::format("{}: cannot read", path));
  std::stringstream text;
  text << in.rdbuf();
  const json report = json::parse(text.str(), nullptr, false);
  if (report.is_discarded() || !report.is_object()) return badInput(fmt::format("{}: not JSON", path));
  if (report.value("schema", "") != "hph-check/3")
    return badInput(fmt::format("{}: schema: not an hph check --json report (hph-check/3)", path));
  if (!report.contains("scenarios") || !report["scenarios"].is_array() || report["scenarios"].empty())
    return badInput(fmt::format("{}: scenarios: missing or empty", path));
  ShardReport shard{path, {}, report["scenarios"]};
  std::optional<std::string> said;
  // The report says which shard it is; each explored scenario says so too, and must agree.
  if (report.contains("shard")) {
    if (!report["shard"].is_string()) return badInput(fmt::format("{}: shard: not I/N", path));
    said = report["shard"].get<std::string>();
  }
  for (const json& s : shard.scenarios) {
    if (!s.is_object()) return badInput(fmt::format("{}: scenarios: not objects", path));
    // Refused before exploring: no shard of its own. A hybrid run names its shard beside its
    // paths (it has no exploration).
    const bool hybrid = s.contains("hybrid") && s["hybrid"].is_object();
    if (!s.contains("exploration") && !hybrid) continue;
    const json& e = hybrid ? s["hybrid"] : s["exploration"];
    if (!e.contains("shard") || !e["shard"].is_string())
      return badInput(fmt::format("{}: {}: exploration.shard: missing", path, s.value("name", "?")));
    const std::string text = e["shard"].get<std::string>();
    if (said && *said != text)
      return badInput(fmt::format("{}: {}: exploration.shard: {}, where the report's other scenarios say {}", path,
                                  s.value("name", "?"), text, *said));
    said = text;
  }
  if (!said) return badInput(fmt::format("{}: no scenario was explored: nothing says which shard it is", path));
  auto parsed = parseShard(*said);
  if (!parsed) return badInput(fmt::format("{}: exploration.shard: '{}' is not I/N", path, *said));
  shard.shard = *parsed;
  return shard;
}

// Every shard reports the same scenarios, in the same order, of the same inputs.
Result<void> checkSameInputs(const std::vector<ShardReport>& shards) {
  const ShardReport& first = shards[0];
  for (const ShardReport& r : shards) {
    if (r.scenarios.size() != first.scenarios.size())
      return badInput(fmt::format("{}: scenarios: {} of them, where {} has {}", r.path, r.scenarios.size(), first.path,
                                  first.scenarios.size()));
    for (size_t i = 0; i < r.scenarios.size(); ++i) {
      const json &mine = r.scenarios[i], &theirs = first.scenarios[i];
      // By name, or by file: a scenario a shard could not load or did not begin is named by
      // its file's stem; shards started from other directories spell the file otherwise.
      const std::string name = mine.value("name", "?");
      if (mine.value("file", "") != theirs.value("file", "") && name != theirs.value("name", "?"))
        return badInput(fmt::format("{}: scenarios[{}]: {}, where {} has {}", r.path, i, mine.value("file", "?"),
                                    first.path, theirs.value("file", "?")));
      if (mine.contains("provenance") != theirs.contains("provenance")) continue;  // one shard could not load it
      if (mine.contains("provenance"))
        for (const char* key : kSameProvenance)
          if (mine["provenance"].value(key, json()) != theirs["provenance"].value(key, json()))
            return badInput(fmt::format("{}: {}: provenance.{} differs from {}'s: the shards explored different inputs",
                                        r.path, name, key, first.path));
      if (mine.contains("exploration") && theirs.contains("exploration"))
        for (const char* key : kSameExploration)
          if (mine["exploration"].value(key, json()) != theirs["exploration"].value(key, json()))
            return badInput(fmt::format("{}: {}: exploration.{} differs from {}'s: the shards ran different searches",
                                        r.path, name, key, first.path));
    }
  }
  return {};
}

// " (H1, H2, H3, H4)": what a hybrid report's holds covers (its checked_properties).
std::string hybridScope(const json& scenario) {
  std::string out;
  for (const json& p : scenario.value("checked_properties", json::array()))
    if (p.is_string()) out += (out.empty() ? "" : ", ") + p.get<std::string>();
  return out.empty() ? "" : " (" + out + ")";
}

int exitCodeOf(const json& scenario) {
  if (scenario.value("as_expected", false)) return kExitHolds;
  const std::string verdict = scenario.value("verdict", "");
  if (verdict == "bad-input" || verdict == "refused") return kExitBadInput;
  if (verdict == "internal-error") return kExitInternal;
  if (verdict == "inconclusive") return kExitInconclusive;
  return kExitViolated;
}

// Exhaustive shards with their branch tallies (ExploreResult::branchTallies). Sharded,
// the search takes every alternative of the first run as a branch, shard I every N-th;
// the unsharded dpor search takes only the branches the first run's races name and those
// their searches ask for, level by level, up to the first level with a violation. Those
// are counted here, each once, and the counterexample is the one the unsharded search
// prefers among them: the merged report is the unsharded run's.
struct ExhaustiveTotals {
  uint64_t schedules = 0, pruned = 0;
  Exercise exercise;
  const json* counterexample = nullptr;
  bool complete = true;  // every branch the unsharded search takes was searched to the end
};

Result<ExhaustiveTotals> tallyBranches(const std::vector<const json*>& parts, const std::vector<std::string>& paths) {
  std::map<std::pair<int64_t, uint64_t>, const json*> tallies;
  for (uint32_t i = 0; i < parts.size(); ++i)
    for (const json& b : (*parts[i])["exploration"]["branches"]) {
      const auto number = [&](const char* key) {
        return b.is_object() && b.contains(key) && b[key].is_number_integer();
      };
      const bool requestsOk =
          !b.is_object() || !b.contains("requests") ||
          (b["requests"].is_array() && std::all_of(b["requests"].begin(), b["requests"].end(),
                                                   [](const json& r) { return r.is_number_unsigned(); }));
      if (!number("level") || !number("branch") || !number("schedules") || !requestsOk || !b.contains("vacuity") ||
          !exerciseFromJson(b["vacuity"]))
        return badInput(
            fmt::format("{}: {}: exploration.branches: not branch tallies", paths[i], (*parts[i]).value("name", "?")));
      const std::pair<int64_t, uint64_t> key{b["level"].get<int64_t>(), b["branch"].get<uint64_t>()};
      if (const auto [it, fresh] = tallies.emplace(key, &b);
          !fresh && it->second->value("schedules", 0) != b.value("schedules", 0))
        return internalError(fmt::format("two shards counted branch {} of level {} differently: the emulation is "
                                         "not deterministic",
                                         key.second, key.first));
    }
  // Level by level: the named branches and what their searches ask for.
  std::map<int64_t, std::vector<const json*>> taken;
  ExhaustiveTotals totals;
  std::set<std::pair<int64_t, uint64_t>> seen;
  std::vector<std::pair<int64_t, uint64_t>> work;
  for (const auto& [key, b] : tallies)
    if (b->value("named", true) && seen.insert(key).second) work.push_back(key);
  while (!work.empty()) {
    const auto key = work.back();
    work.pop_back();
    const auto it = tallies.find(key);
    if (it == tallies.end()) {
      totals.complete = false;  // asked for, but no shard finished it (cut short)
      continue;
    }
    taken[key.first].push_back(it->second);
    for (const json& r : it->second->value("requests", json::array()))
      if (const std::pair<int64_t, uint64_t> next{key.first, r.get<uint64_t>()}; seen.insert(next).second)
        work.push_back(next);
  }
  std::optional<json> bestOrder;
  for (const auto& [level, branches] : taken) {
    for (const json* b : branches) {
      totals.schedules += b->value("schedules", uint64_t{0});
      totals.pruned += b->value("pruned", uint64_t{0});
      totals.exercise += *exerciseFromJson((*b)["vacuity"]);
      if (!b->contains("counterexample")) continue;
      const json order = b->value("order", json::array());
      if (!bestOrder || order < *bestOrder) bestOrder = order, totals.counterexample = &(*b)["counterexample"];
    }
    if (totals.counterexample) break;  // the unsharded search stops after this level
  }
  return totals;
}

// One scenario from its shards' reports (in shard order).
Result<json> mergeScenario(const std::vector<const json*>& parts, const std::vector<std::string>& paths) {
  // Refused before exploring, or a shard that could not run it: that entry stands. A hybrid
  // run is whole in every shard: the first stands.
  for (const json* p : parts)
    if (!p->contains("exploration")) return *p;
  const uint32_t count = static_cast<uint32_t>(parts.size());
  json merged = *parts[0];
  json& exploration = merged["exploration"];
  const bool sampled = exploration.value("strategy", "") != "exhaustive";
  uint64_t schedules = 0, pruned = 0;
  Exercise exercise;
  bool cutShort = false, exhausted = true, accepted = true, patched = false;
  double seconds = 0;
  std::optional<uint32_t> found;  // the shard whose counterexample stands
  uint64_t foundAt = UINT64_MAX;  // random and pct: its schedule's number in the unsharded order
  std::vector<std::string> stoppedBy;
  for (uint32_t i = 0; i < count; ++i) {
    const json& s = *parts[i];
    const json& e = s["exploration"];
    schedules += e.value("schedules", uint64_t{0});
    pruned += e.value("pruned", uint64_t{0});
    cutShort |= e.value("cut_short", false);
    exhausted &= e.value("exhausted", false);
    accepted &= !e.value("cut_short", false) || e.value("accepted_partial", false);
    if (const std::string by = e.value("stopped_by", ""); !by.empty() && by != "counterexample")
      stoppedBy.push_back(by);
    const auto shardExercise = exerciseFromJson(s.value("vacuity", json()));
    if (!shardExercise)
      return badInput(fmt::format("{}: {}: vacuity: not what hph check writes", paths[i], s.value("name", "?")));
    exercise += *shardExercise;
    // Whether the scenario patches (older reports: a vacuous shard says it does).
    patched |= s["vacuity"].value("patched", s["vacuity"].value("vacuous", false));
    seconds = std::max(seconds, s["timing"].value("seconds", 0.0));
    if (!s.contains("counterexample")) continue;
    if (sampled) {
      // Shard i ran schedules i, i+N, ... and stopped at its first violation: its count
      // says which one that was.
      const uint64_t at = i + (e.value("schedules", uint64_t{1}) - 1) * count;
      if (at < foundAt) foundAt = at, found = i;
    } else {
      // The fewest preemptions, then the fewest decisions, as the search prefers.
      const json& c = s["counterexample"];
      const json& best = found ? (*parts[*found])["counterexample"] : json();
      const auto key = [](const json& x) {
        return std::pair(x.value("preemptions", uint64_t{0}), x.contains("decisions") ? x["decisions"].size() : 0);
      };
      if (!found || key(c) < key(best)) found = i;
    }
  }
  // Random and pct: the vacuity counters of the schedules up to the earliest violation, as
  // the unsharded run counts them (shards that found none ran past it).
  const bool perSchedule =
      sampled && std::all_of(parts.begin(), parts.end(), [](const json* p) {
        return (*p)["exploration"].contains("schedule_vacuity") && (*p)["exploration"]["schedule_vacuity"].is_array();
      });
  if (perSchedule) {
    exercise = {};
    for (uint32_t i = 0; i < count; ++i)
      for (const json& entry : (*parts[i])["exploration"]["schedule_vacuity"]) {
        const auto scheduleExercise =
            entry.is_object() ? exerciseFromJson(entry.value("vacuity", json())) : std::nullopt;
        if (!scheduleExercise || !entry.contains("schedule") || !entry["schedule"].is_number_unsigned())
          return badInput(fmt::format("{}: {}: exploration.schedule_vacuity: not {{schedule, vacuity}} entries",
                                      paths[i], (*parts[i]).value("name", "?")));
        if (found && i + entry["schedule"].get<uint64_t>() * count > foundAt) continue;
        exercise += *scheduleExercise;
      }
  }
  merged["exploration"].erase("schedule_vacuity");
  // A shard cut short leaves the unsharded search's branches unknown: its own sums stand.
  const bool tallied = !sampled && !cutShort && std::all_of(parts.begin(), parts.end(), [](const json* p) {
    return (*p)["exploration"].contains("branches");
  });
  const json* talliedCounterexample = nullptr;
  bool useTallies = false;
  if (tallied) {
    auto totals = tallyBranches(parts, paths);
    if (!totals) return totals.error();
    if (totals->complete) {
      useTallies = true;
      schedules = totals->schedules;
      pruned = totals->pruned;
      exercise = totals->exercise;
      talliedCounterexample = totals->counterexample;
      // Past the cap the unsharded search would have stopped: no pass from more.
      const uint64_t limit = exploration.value("schedule_limit", UINT64_MAX);
      if (!talliedCounterexample && schedules > limit) {
        cutShort = true;
        accepted = false;
        stoppedBy.push_back("schedule cap");
      }
    } else {
      // A branch the unsharded search takes that no shard finished: nothing is known of it.
      cutShort = true;
      accepted = false;
    }
  }
  merged["exploration"].erase("branches");
  merged["exploration"]["pruned"] = pruned;
  merged["exploration"]["shard"] = fmt::format("0/1 (merged from {} shards)", count);
  const json* counterexample = useTallies ? talliedCounterexample
                               : found    ? &(*parts[*found])["counterexample"]
                                          : nullptr;
  // Every site of the patch exercised by some schedule the unsharded search counts, as hph
  // check judges (sites: their names, as every shard reports them).
  std::vector<std::string> sites;
  const json names = merged["vacuity"].value("sites", json());
  if (!names.is_array() || !std::all_of(names.begin(), names.end(), [](const json& n) { return n.is_string(); }) ||
      (patched && names.empty()))
    return badInput(
        fmt::format("{}: {}: vacuity.sites: not the names of the patch's sites", paths[0], merged.value("name", "?")));
  for (const json& name : names) sites.push_back(name.get<std::string>());
  const bool vacuous =
      (schedules == 0 || (patched && !unexercisedSites(sites, exercise).empty())) && !counterexample && !cutShort;
  merged["vacuity"] = vacuityJson(sites, exercise, patched, vacuous);
  merged["timing"] = {{"seconds", seconds}, {"shards", count}};
  merged.erase("message");
  if (counterexample) {
    // The verdict is the counterexample's: refused (a plan that gave up) or its property.
    const std::string property = counterexample->value("property", "");
    const std::string verdict = property == "refused" ? "refused" : "violation:" + property;
    merged["verdict"] = verdict;
    merged["counterexample"] = *counterexample;
    // A tallied counterexample has no timeline; the shard whose own it was traced it.
    if (!counterexample->contains("timeline"))
      for (const json* p : parts)
        if ((*p).contains("counterexample") &&
            (*p)["counterexample"].value("replay", "") == counterexample->value("replay", "") &&
            (*p)["counterexample"].contains("timeline"))
          merged["counterexample"]["timeline"] = (*p)["counterexample"]["timeline"];
    merged["as_expected"] = verdict == merged.value("expect", "");
    // Random and pct: every schedule before the earliest violation ran, in some shard.
    merged["exploration"]["schedules"] = sampled ? foundAt + 1 : schedules;
    merged["exploration"]["stopped_by"] = "counterexample";
    merged["exploration"]["exhausted"] = false;
    merged["exploration"]["cut_short"] = false;
    merged["exploration"]["accepted_partial"] = false;
    if (found && (*parts[*found]).contains("message")) merged["message"] = (*parts[*found])["message"];
    return merged;
  }
  merged.erase("counterexample");
  merged["exploration"]["schedules"] = schedules;
  merged["exploration"]["exhausted"] = !sampled && exhausted;
  merged["exploration"]["cut_short"] = cutShort;
  merged["exploration"]["accepted_partial"] = cutShort && accepted;
  merged["exploration"]["stopped_by"] = stoppedBy.empty() ? "" : stoppedBy.front();
  const std::string verdict = cutShort ? "inconclusive" : vacuous ? "vacuous" : "holds";
  merged["verdict"] = verdict;
  merged["as_expected"] = verdict == merged.value("expect", "") || (cutShort && accepted);
  if (cutShort) {
    for (uint32_t i = 0; i < count; ++i)
      if ((*parts[i])["exploration"].value("cut_short", false)) {
        merged["message"] = fmt::format("shard {}/{}: {}", i, count, (*parts[i]).value("message", "cut short"));
        break;
      }
  }
  return merged;
}

}  // namespace

int runMerge(const MergeOptions& options) {
  if (std::any_of(options.reports.begin(), options.reports.end(), isGateReport)) {
    if (options.jsonPath || options.junitPath || options.sarifPath || options.htmlPath)
      return reportError(
          badInput("--json, --junit, --sarif, --html: gate.json shards merge into a directory: --out DIR"));
    if (!options.outDir) return reportError(badInput("--out: gate.json shards merge into a directory: --out DIR"));
    return runMergeGate(options.reports, *options.outDir);
  }
  if (options.outDir)
    return reportError(badInput("--out: only for gate.json shards; hph check's reports merge into --json, --junit, "
                                "--sarif and --html"));
  // Each merged report its own file, none of them a shard's.
  const std::vector<std::pair<const char*, std::optional<std::string>>> outputs{{"--json", options.jsonPath},
                                                                                {"--junit", options.junitPath},
                                                                                {"--sarif", options.sarifPath},
                                                                                {"--html", options.htmlPath}};
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].second) continue;
    for (size_t j = i + 1; j < outputs.size(); ++j)
      if (outputs[j].second && sameFile(*outputs[i].second, *outputs[j].second))
        return reportError(
            badInput(fmt::format("{} {} and {} {}: the same file; each report needs its own path", outputs[i].first,
                                 *outputs[i].second, outputs[j].first, *outputs[j].second)));
    for (const std::string& in : options.reports)
      if (sameFile(*outputs[i].second, in))
        return reportError(badInput(fmt::format("{} {}: is the shard report {}; a merged report must not overwrite an "
                                                "input",
                                                outputs[i].first, *outputs[i].second, in)));
  }
  std::vector<ShardReport> shards;
  for (const std::string& path : options.reports) {
    auto report = readShardReport(path);
    if (!report) return reportError(report.error());
    shards.push_back(std::move(report).value());
  }
  std::vector<ShardReportName> names;
  for (const ShardReport& r : shards) names.push_back({r.path, r.shard});
  if (auto set = checkCompleteShards(names, "exploration.shard"); !set) return reportError(set.error());
  if (auto same = checkSameInputs(shards); !same) return reportError(same.error());
  std::sort(shards.begin(), shards.end(),
            [](const ShardReport& a, const ShardReport& b) { return a.shard.index < b.shard.index; });
  json scenarios = json::array();
  int exitCode = kExitHolds;
  double seconds = 0;
  for (size_t i = 0; i < shards[0].scenarios.size(); ++i) {
    std::vector<const json*> parts;
    for (const ShardReport& r : shards) parts.push_back(&r.scenarios[i]);
    std::vector<std::string> paths;
    for (const ShardReport& r : shards) paths.push_back(r.path);
    auto mergedOrError = mergeScenario(parts, paths);
    if (!mergedOrError) return reportError(mergedOrError.error());
    json merged = std::move(mergedOrError).value();
    const int code = exitCodeOf(merged);
    // As hph check orders them: bad input, internal, unexpected, inconclusive, holds.
    const auto rank = [](int c) {
      return c == kExitBadInput ? 4 : c == kExitInternal ? 3 : c == kExitViolated ? 2 : c == kExitInconclusive ? 1 : 0;
    };
    if (rank(code) > rank(exitCode)) exitCode = code;
    if (merged.contains("timing")) seconds = std::max(seconds, merged["timing"].value("seconds", 0.0));
    const json& e = merged.contains("exploration") ? merged["exploration"] : json::object();
    if (merged.contains("hybrid")) {
      // A serial hybrid run, whole in every shard: what hph check printed of it.
      fmt::print("{} {}: {}{} — serial hybrid run, the same in {} shards\n",
                 merged.value("as_expected", false) ? "PASS" : "FAIL", merged.value("name", "?"),
                 merged.value("verdict", "?"), merged.value("verdict", "") == "holds" ? hybridScope(merged) : "",
                 shards.size());
      for (const json& f : merged["hybrid"].value("findings", json::array()))
        fmt::print("  {}: {}\n", f.value("property", "?"), f.value("message", ""));
      scenarios.push_back(std::move(merged));
      continue;
    }
    fmt::print("{} {}: {} — {} shards, {} schedules{}\n", merged.value("as_expected", false) ? "PASS" : "FAIL",
               merged.value("name", "?"), merged.value("verdict", "?"), shards.size(),
               e.value("schedules", uint64_t{0}), e.value("exhausted", false) ? " (exhausted)" : "");
    if (merged.contains("counterexample"))
      fmt::print("  {}: {}\n  replay: hph replay {}\n", merged["counterexample"].value("property", "?"),
                 merged["counterexample"].value("message", ""), merged["counterexample"].value("replay", ""));
    scenarios.push_back(std::move(merged));
  }
  printVerdictTable(scenarios);
  const json report = {{"schema", "hph-check/3"},
                       {"scenarios", scenarios},
                       {"exit_code", exitCode},
                       {"merged_from", options.reports},
                       {"timing", {{"seconds", seconds}}}};
  const ReportFiles files{options.jsonPath, options.junitPath, options.sarifPath, options.htmlPath};
  if (auto written = writeReportFiles(files, report, exitCode, seconds, "hph merge"); !written)
    return reportError(written.error());
  return exitCode;
}

}  // namespace hph
