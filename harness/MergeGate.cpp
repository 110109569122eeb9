#include "harness/MergeGate.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness/Diagnostics.h"
#include "harness/MergeCommand.h"
#include "harness/ShardSelection.h"
#include "harness/gate/CheckStageVerdict.h"
#include "harness/gate/JsonReport.h"
#include "harness/report/GateReport.h"
#include "harness/report/PropertyCases.h"
#include "support/Digest.h"
#include "support/EchoText.h"
#include "support/Status.h"

namespace hph {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// What every shard of one release says the same of it.
constexpr const char* kSameRelease[] = {"schema", "hph_version", "release", "manifest", "images", "stages"};
// What every shard of one run planned the same (the trampoline and on-host jobs).
constexpr const char* kSamePlan[] = {"jobs"};

struct GateShard {
  ShardReportName name;
  fs::path directory;  // where its stages' reports are
  json document;
};

Result<GateShard> readGateShard(const std::string& path) {
  std::optional<json> document = readJsonReport(path);
  if (!document) return badInput(fmt::format("{}: not JSON", path));
  if (document->value("schema", "") != "hph-gate/1")
    return badInput(fmt::format("{}: schema: not an hph gate report (hph-gate/1)", path));
  if (!document->contains("shard") || !(*document)["shard"].is_object())
    return badInput(
        fmt::format("{}: shard: missing: an unsharded gate's report is the release's verdict already", path));
  auto shard = parseShard((*document)["shard"].value("shard", ""));
  if (!shard)
    return badInput(fmt::format("{}: shard.shard: '{}' is not I/N", path, (*document)["shard"].value("shard", "")));
  for (const char* key : {"items", "jobs"})
    if (!document->contains(key) || !(*document)[key].is_structured())
      return badInput(fmt::format("{}: {}: missing", path, key));
  for (const json& item : (*document)["items"])
    if (!item.is_object() || !item.contains("stage") || !item.contains("function") || !item.contains("arch") ||
        !item.contains("base") || !item.contains("verdict"))
      return badInput(fmt::format("{}: items: an item without stage, arch, base, function and verdict", path));
  return GateShard{{path, *shard}, fs::path(path).parent_path(), std::move(*document)};
}

// Copies a shard's directory of stage reports into the merged one (job numbers make the
// names unique across shards).
Result<void> copyReports(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::exists(from)) return {};
  fs::create_directories(to, ec);
  if (!ec) fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::skip_existing, ec);
  if (ec) return badInput(fmt::format("--out: {}: {}", echoText(to.string(), 200), ec.message()));
  return {};
}

int stageRank(const json& item) {
  const std::string stage = item.value("stage", "");
  return stage == "check" ? 0 : stage == "trampoline" ? 1 : 2;
}

}  // namespace

bool isGateReport(const std::string& path) {
  const std::optional<json> document = readJsonReport(path);
  return document && document->value("schema", "") == "hph-gate/1";
}

int runMergeGate(const std::vector<std::string>& gateReports, const std::string& outDir) {
  std::vector<GateShard> shards;
  for (const std::string& path : gateReports) {
    auto shard = readGateShard(path);
    if (!shard) return reportError(shard.error());
    shards.push_back(std::move(shard).value());
  }
  std::vector<ShardReportName> names;
  for (const GateShard& s : shards) names.push_back(s.name);
  if (auto set = checkCompleteShards(names, "shard.shard"); !set) return reportError(set.error());
  std::sort(shards.begin(), shards.end(),
            [](const GateShard& a, const GateShard& b) { return a.name.shard.index < b.name.shard.index; });
  const GateShard& first = shards[0];
  for (const GateShard& s : shards) {
    for (const char* key : kSameRelease)
      if (!s.document.contains(key) || s.document.value(key, json()) != first.document.value(key, json()))
        return reportError(badInput(fmt::format("{}: {} differs from {}'s: the shards gated different releases",
                                                s.name.path, key, first.name.path)));
    for (const char* key : kSamePlan)
      if (s.document.value(key, json()) != first.document.value(key, json()))
        return reportError(badInput(fmt::format("{}: {} differs from {}'s: the shards planned different jobs",
                                                s.name.path, key, first.name.path)));
    // A job's items come from the shard that owns it (job number modulo the count).
    for (const json& item : s.document["items"])
      if (item["stage"] != "check" && item.value("order", size_t{0}) % s.name.shard.count != s.name.shard.index)
        return reportError(badInput(fmt::format("{}: items: a {} job (number {}) that is shard {}'s, not this one's",
                                                s.name.path, jsonText(item, "stage"), item.value("order", size_t{0}),
                                                item.value("order", size_t{0}) % s.name.shard.count)));
  }
  // The merged reports replace the gate's own files in --out: never a shard's directory.
  const fs::path out(outDir);
  for (const GateShard& s : shards) {
    std::error_code ec;
    if (fs::exists(out) && fs::equivalent(out, s.directory.empty() ? fs::path(".") : s.directory, ec))
      return reportError(
          badInput(fmt::format("--out {}: is the directory of the shard {}; the merge must not overwrite its input",
                               echoText(outDir, 200), s.name.path)));
  }
  if (auto prepared = prepareGateDirectory(outDir); !prepared) return reportError(prepared.error());

  // Each shard's check.json is the exploration its gate.json judged (a shard's directory
  // holding another run's check.json would merge explorations of other inputs).
  for (const GateShard& s : shards)
    if (s.document.contains("check_sha256")) {
      const std::string check = (s.directory / "check.json").string();
      if (sha256OfFile(check) != s.document.value("check_sha256", ""))
        return reportError(badInput(
            fmt::format("{}: not the exploration of {} (its SHA-256 is not check_sha256 there)", check, s.name.path)));
    }
  // The explorations, as hph merge combines hph check's shards.
  MergeOptions checks;
  for (const GateShard& s : shards) checks.reports.push_back((s.directory / "check.json").string());
  checks.jsonPath = (out / "check.json").string();
  checks.junitPath = (out / "check.junit.xml").string();
  checks.sarifPath = (out / "check.sarif").string();
  checks.htmlPath = (out / "check.html").string();
  const int checkMerge = runMerge(checks);
  const std::optional<json> merged = readJsonReport(out / "check.json");
  if (!merged) return checkMerge == kExitHolds ? kExitInternal : checkMerge;  // it said why, in one line
  // Why the merged exploration cannot pass: a shard's exploration broke, or the merge
  // could not write every report.
  std::string broken;
  for (const GateShard& s : shards)
    if (broken.empty() && s.document.contains("check_broken"))
      broken = fmt::format("shard {}: {}", s.name.shard.index, jsonText(s.document, "check_broken"));
  for (const char* file : {"check.junit.xml", "check.sarif", "check.html"})
    if (broken.empty() && !fs::exists(out / file)) broken = fmt::format("the merge wrote no {}", file);
  if (broken.empty() && checkMerge == kExitInternal) broken = "the merge of the explorations failed (see above)";
  // A violation a shard found stands even where the merged search would not have taken
  // its branch: the plan is unsafe either way.
  std::vector<std::optional<json>> parts;  // each shard's check.json, read once
  for (const GateShard& s : shards) parts.push_back(readJsonReport(s.directory / "check.json"));
  const auto foundInAShard = [&](const std::string& file) -> std::string {
    for (size_t i = 0; i < shards.size(); ++i) {
      const GateShard& s = shards[i];
      const std::optional<json>& part = parts[i];
      if (!part || !part->contains("scenarios")) continue;
      for (const json& r : (*part)["scenarios"])
        if (r.value("file", "") == file && r.contains("counterexample"))
          return fmt::format("shard {} found {}: {} (hph replay {})", s.name.shard.index,
                             r["counterexample"].value("property", "?"), r["counterexample"].value("message", ""),
                             r["counterexample"].value("replay", ""));
    }
    return "";
  };

  json items = json::array();
  // Every shard lists every scenario's check items; the merged exploration judges them.
  for (const json& item : first.document["items"]) {
    if (item.value("stage", "") != "check") continue;
    const json* found = nullptr;
    for (const json& r : (*merged)["scenarios"])
      if (r.value("file", "") == item.value("file", "")) found = &r;
    StageVerdict v = checkStageVerdict(found, broken, "0/1");
    if (v.verdict == "pass")
      if (std::string shardFound = foundInAShard(item.value("file", "")); !shardFound.empty()) v = {"fail", shardFound};
    json judged = item;
    judged["verdict"] = v.verdict;
    judged["detail"] = v.detail;
    items.push_back(std::move(judged));
  }
  // Every other job ran in one shard: its items and reports are that shard's.
  double seconds = 0;
  for (const GateShard& s : shards) {
    for (const json& item : s.document["items"])
      if (item.value("stage", "") != "check") items.push_back(item);
    for (const char* sub : {"trampoline", "onhost", "traces"})
      if (auto copied = copyReports(s.directory / sub, out / sub); !copied) return reportError(copied.error());
    // Each shard's logs: the on-host ones are named by job, check.txt by the shard.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(s.directory / "logs", ec)) {
      const std::string name = entry.path().filename().string();
      const fs::path to = out / "logs" / (name == "check.txt" ? fmt::format("check.{}.txt", s.name.shard.index) : name);
      fs::copy_file(entry.path(), to, fs::copy_options::skip_existing, ec);
    }
    seconds = std::max(seconds, s.document.value("seconds", 0.0));  // the shards ran side by side
  }
  // Every planned job has its items (from its own shard, checked above); one that none
  // has is a failure, never a function that needed nothing (n/a).
  const auto covered = [&](const char* stage, size_t order) {
    return std::any_of(items.begin(), items.end(),
                       [&](const json& i) { return i["stage"] == stage && i.value("order", size_t{0}) == order; });
  };
  for (const char* stage : {"trampoline", "onhost"})
    for (const json& job : first.document["jobs"].value(stage, json::array())) {
      const size_t order = job.value("order", size_t{0});
      if (covered(stage, order)) continue;
      const std::string detail =
          fmt::format("no shard reported this job (shard {} owns it)", order % first.name.shard.count);
      if (std::string(stage) == "trampoline") {
        json item = job;
        item["stage"] = stage, item["verdict"] = "fail", item["detail"] = detail, item["report"] = "";
        items.push_back(std::move(item));
      } else {
        for (const json& check : json(items))
          if (check["stage"] == "check" && check.value("file", "") == job.value("file", "")) {
            json item = check;
            item["stage"] = stage, item["order"] = order, item["verdict"] = "fail", item["detail"] = detail;
            item["report"] = "";
            items.push_back(std::move(item));
          }
      }
    }
  // A shard applied its plans whatever its part found; where the merged exploration does
  // not hold, the release skips them as the unsharded gate does.
  for (json& item : items) {
    if (item["stage"] != "onhost") continue;
    for (const json& check : json(items))
      if (check["stage"] == "check" && check.value("file", "") == item.value("file", "") &&
          check["verdict"] != "pass") {
        item["verdict"] = "skipped";
        item["detail"] = "its exploration did not hold";
      }
  }
  std::stable_sort(items.begin(), items.end(), [](const json& a, const json& b) {
    return std::pair(stageRank(a), a.value("order", size_t{0})) < std::pair(stageRank(b), b.value("order", size_t{0}));
  });

  json release;
  for (const char* key : kSameRelease) release[key] = first.document.at(key);
  json document = gateDocument(std::move(release), items, seconds, json());
  document["merged_from"] = gateReports;
  // A shard that was interrupted did not finish its part: the release does not ship.
  for (const GateShard& s : shards)
    if (s.document.contains("interrupted")) {
      document["ship"] = false;
      document["interrupted"] = fmt::format("{} (shard {}/{})", s.document.value("interrupted", "a signal"),
                                            s.name.shard.index, s.name.shard.count);
    }
  const int exitCode = document["ship"].get<bool>() ? kExitHolds : kExitViolated;
  document["exit_code"] = exitCode;
  if (auto written = writeGateReports(outDir, document); !written) return reportError(written.error());
  fmt::print("\nhph merge: release '{}', {} gate shards\n{}", jsonText(document, "release"), shards.size(),
             gateSummaryText(document));
  return exitCode;
}

}  // namespace hph
