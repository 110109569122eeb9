#include "harness/report/GateReport.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>

#include "harness/report/HtmlReport.h"
#include "harness/report/PropertyCases.h"
#include "harness/report/ReportFiles.h"
#include "harness/report/SarifReport.h"
#include "support/Digest.h"
#include "support/EchoText.h"

namespace hph {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kStages[] = {"check", "trampoline", "onhost"};

// pass: every item passed; fail: one failed; skipped: none failed, one was skipped; "n/a":
// the stage ran and this function needs nothing of it; "not run": the manifest left the
// stage out.
std::string stageVerdict(const json& items, const json& function, const std::string& stage, bool ran) {
  if (!ran) return "not run";
  bool any = false, failed = false, skipped = false;
  for (const json& i : items)
    if (i["stage"] == stage && i["arch"] == function["arch"] && i["base"] == function["base"] &&
        i["function"] == function["function"]) {
      any = true;
      failed |= i["verdict"] == "fail";
      skipped |= i["verdict"] == "skipped";
    }
  return !any ? "n/a" : failed ? "fail" : skipped ? "skipped" : "pass";
}

std::string text(const json& j, const char* key) { return markupEscape(jsonText(j, key)); }

std::string cssClass(const std::string& verdict) {
  return verdict == "pass" ? "ok" : verdict == "fail" ? "fail" : verdict == "skipped" ? "skip" : "none";
}

// The function, and where its code is in the base image's file when the gate found it (a
// physical location without a region is one SARIF validators warn of).
json gateLocation(const json& item) {
  json location{{"logicalLocations", json::array({{{"name", item["function"]}, {"kind", "function"}}})}};
  if (item.contains("file_offset"))
    location["physicalLocation"] = {{"artifactLocation", {{"uri", uriOf(jsonText(item, "base"))}}},
                                    {"region", {{"byteOffset", item["file_offset"]}, {"byteLength", 1}}}};
  return location;
}

json sarifGateRun(const json& document) {
  json results = json::array();
  for (const json& i : document["items"]) {
    // Every failure, the check stage's too: its own results (beside these, in check.sarif's
    // run) carry where in the code a property broke, but a stage that broke before it
    // could report has only this one.
    if (i["verdict"] != "fail") continue;
    results.push_back(
        {{"ruleId", i["stage"]},
         {"level", "error"},
         {"message",
          {{"text", fmt::format("{} of '{}' ({}, scenario {}): {}", jsonText(i, "stage"), jsonText(i, "function"),
                                jsonText(i, "arch"), jsonText(i, "scenario"), jsonText(i, "detail"))}}},
         {"locations", json::array({gateLocation(i)})}});
  }
  json rules = json::array();
  for (const char* stage : {"trampoline", "onhost"})
    rules.push_back(
        {{"id", stage},
         {"shortDescription",
          {{"text", std::string(stage) == "trampoline" ? "The trampoline does not behave as the code it displaces"
                                                       : "The plan applied to real threads did not hold"}}}});
  return {{"tool", {{"driver", {{"name", "hph gate"}, {"version", HPH_VERSION_STRING}, {"rules", rules}}}}},
          {"results", results}};
}

std::string gateHtml(const json& d) {
  const bool ship = d["ship"].get<bool>();
  const bool partFailed = d.value("part_failed", true);
  const std::string heading =
      !d.contains("shard")
          ? (ship ? "Ship" : "Do not ship")
          : fmt::format("Shard {}: {} (the release's verdict is the merge of every shard's)",
                        jsonText(d["shard"], "shard"),
                        partFailed ? "a failure in this part: do not ship" : "nothing failed in this part");
  std::string page = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>hph gate: {}</title><style>{}</style>"
      "</head><body>\n<h1 class=\"{}\" id=\"verdict\">{}</h1>\n",
      markupEscape(jsonText(d, "release")), htmlReportStyle(),
      ship                                 ? "ship"
      : d.contains("shard") && !partFailed ? "partial"
                                           : "noship",
      markupEscape(heading));
  if (d.contains("interrupted"))
    page += fmt::format("<p id=\"interrupted\">Interrupted by {}: the stage running stopped (its exploration "
                        "inconclusive), the jobs after it did not run.</p>\n",
                        text(d, "interrupted"));
  page += fmt::format("<p>Release <b>{}</b>, manifest <code>{}</code> (SHA-256 <code>{}</code>), {} hph {}; "
                      "{:.1f} s.</p>\n",
                      markupEscape(jsonText(d, "release")), markupEscape(jsonText(d["manifest"], "file")),
                      markupEscape(jsonText(d["manifest"], "sha256")), "checked by",
                      markupEscape(jsonText(d, "hph_version")), d.value("seconds", 0.0));
  page += "<h2>Images</h2>\n<table id=\"images\"><tr><th>arch</th><th>image</th><th>SHA-256</th></tr>\n";
  for (const json& img : d["images"]) {
    page +=
        fmt::format("<tr><td>{}</td><td>base <code>{}</code></td><td><code>{}</code></td></tr>\n", text(img, "arch"),
                    markupEscape(jsonText(img, "base")), markupEscape(jsonText(img, "base_sha256")));
    for (const json& p : img["patches"])
      page += fmt::format("<tr><td>{}</td><td>patch <code>{}</code></td><td><code>{}</code></td></tr>\n",
                          text(img, "arch"), markupEscape(jsonText(p, "file")), markupEscape(jsonText(p, "sha256")));
  }
  page += "</table>\n<h2>Patched functions</h2>\n<table id=\"functions\"><tr><th>arch</th><th>function</th>";
  for (const char* stage : kStages) page += fmt::format("<th>{}</th>", stage);
  page += "<th>verdict</th></tr>\n";
  for (const json& f : d["functions"]) {
    page += fmt::format("<tr><td>{}</td><td><code>{}</code></td>", text(f, "arch"), text(f, "function"));
    for (const char* stage : kStages)
      page += fmt::format("<td class=\"{}\">{}</td>", cssClass(jsonText(f, stage)), text(f, stage));
    page += fmt::format("<td class=\"{}\">{}</td></tr>\n", cssClass(jsonText(f, "verdict")), text(f, "verdict"));
  }
  page += "</table>\n<h2>Stages, scenario by scenario</h2>\n<table id=\"items\"><tr><th>stage</th><th>arch</th>"
          "<th>function</th><th>scenario</th><th>verdict</th><th>detail</th><th>report</th></tr>\n";
  for (const json& i : d["items"])
    page += fmt::format("<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"{}\">{}</td>"
                        "<td>{}</td><td>{}</td></tr>\n",
                        text(i, "stage"), text(i, "arch"), text(i, "function"), text(i, "scenario"),
                        cssClass(jsonText(i, "verdict")), text(i, "verdict"), text(i, "detail"),
                        jsonText(i, "report").empty()
                            ? ""
                            : fmt::format("<a href=\"{0}\">{0}</a>", markupEscape(jsonText(i, "report"))));
  page += "</table>\n<p>The exploration's own page, with every property and each counterexample's timeline: "
          "<a href=\"check.html\">check.html</a>.</p>\n</body></html>\n";
  return page;
}

}  // namespace

json gateRelease(const ReleaseManifest& manifest) {
  json images = json::array();
  for (const ReleaseImages& img : manifest.images) {
    json patches = json::array();
    for (const std::string& p : img.patches) patches.push_back({{"file", p}, {"sha256", sha256OfFile(p)}});
    images.push_back({{"arch", archOf(img.arch).name()},
                      {"base", img.base},
                      {"base_sha256", sha256OfFile(img.base)},
                      {"patches", patches},
                      {"scenarios", img.scenarios}});
  }
  return {{"schema", "hph-gate/1"},
          {"hph_version", HPH_VERSION_STRING},
          {"release", manifest.release},
          {"manifest", {{"file", manifest.path}, {"sha256", sha256OfFile(manifest.path)}}},
          {"images", images},
          {"stages",
           {{"check",
             {{"run", true},
              {"max_time", manifest.check.maxTime ? json(*manifest.check.maxTime) : json()},
              {"schedules", manifest.check.schedules ? json(*manifest.check.schedules) : json()}}},
            {"trampoline", {{"run", manifest.trampoline.run}, {"states", manifest.trampoline.states}}},
            {"onhost",
             {{"run", manifest.onhost.run},
              {"patcher", manifest.onhost.patcher},
              {"threads", manifest.onhost.threads},
              {"duration", manifest.onhost.duration}}}}}};
}

json gateDocument(json release, const json& items, double seconds, const json& shard) {
  // One row per patched function, in the order the items name them.
  json functions = json::array();
  std::vector<std::tuple<std::string, std::string, std::string>> seen;
  bool passedAll = !items.empty();
  for (const json& i : items) {
    const auto key = std::tuple(jsonText(i, "arch"), jsonText(i, "base"), jsonText(i, "function"));
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    json f{{"arch", i["arch"]}, {"base", i["base"]}, {"function", i["function"]}};
    bool passed = true;
    for (const char* stage : kStages) {
      f[stage] = stageVerdict(items, f, stage, release["stages"][stage].value("run", false));
      passed &= f[stage] == "pass" || f[stage] == "n/a" || f[stage] == "not run";
    }
    passed &= f["check"] == "pass";
    f["verdict"] = passed ? "pass" : "fail";
    passedAll &= passed;
    functions.push_back(std::move(f));
  }
  release["items"] = items;
  release["functions"] = std::move(functions);
  // A shard explored a part: nothing failing there is not a release that ships.
  release["ship"] = passedAll && shard.is_null();
  if (!shard.is_null()) {
    release["shard"] = shard;
    release["part_failed"] = !passedAll;
  }
  release["seconds"] = seconds;
  return release;
}

Result<void> prepareGateDirectory(const std::string& directory) {
  if (directory.empty()) return badInput("--out: empty: name the directory for the reports");
  const fs::path out(directory);
  std::error_code ec;
  for (const char* stale : {"gate.json", "gate.junit.xml", "gate.sarif", "gate.html", "check.json", "check.junit.xml",
                            "check.sarif", "check.html", "traces", "logs", "trampoline", "onhost"})
    if (fs::remove_all(out / stale, ec); ec)
      return badInput(fmt::format("--out: {}: {}", echoText((out / stale).string(), 200), ec.message()));
  for (const char* sub : {"", "logs", "trampoline", "onhost"})
    if (fs::create_directories(out / sub, ec); ec)
      return badInput(fmt::format("--out: {}: {}", echoText((out / sub).string(), 200), ec.message()));
  return {};
}

Result<void> writeGateReports(const std::string& directory, const json& document) {
  const fs::path dir(directory);
  const auto dumped = [](const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"; };
  const auto write = [&](const char* name, const std::string& text) -> Result<void> {
    if (!writeTextFile((dir / name).string(), text))
      return badInput(fmt::format("--out {}: cannot write {}", echoText(directory, 200), name));
    return {};
  };
  // JUnit: a suite per stage, a case per scenario x function.
  std::string suites;
  size_t tests = 0, failures = 0;
  for (const char* stage : kStages) {
    std::string body;
    size_t count = 0, failed = 0, skipped = 0;
    for (const json& i : document["items"]) {
      if (i["stage"] != stage) continue;
      ++count;
      body += fmt::format("    <testcase classname=\"{}.{}\" name=\"{}\" time=\"0\"", markupEscape(jsonText(i, "arch")),
                          markupEscape(jsonText(i, "function")), markupEscape(jsonText(i, "scenario")));
      if (i["verdict"] == "fail") {
        ++failed;
        body += fmt::format(">\n      <failure message=\"{0}\" type=\"{1}\">{0}</failure>\n    </testcase>\n",
                            markupEscape(jsonText(i, "detail")), stage);
      } else if (i["verdict"] == "skipped") {
        ++skipped;
        body +=
            fmt::format(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", markupEscape(jsonText(i, "detail")));
      } else {
        body += "/>\n";
      }
    }
    suites += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n{}  </testsuite>\n",
                          stage, count, failed, skipped, body);
    tests += count;
    failures += failed;
  }
  if (auto r =
          write("gate.junit.xml",
                fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hph gate\" tests=\"{}\" "
                            "failures=\"{}\" time=\"{:.3f}\">\n{}</testsuites>\n",
                            tests, failures, document.value("seconds", 0.0), suites));
      !r)
    return r;
  // SARIF: the exploration's runs (their results point at the patched function's code)
  // and one run for the other stages' failures.
  json sarif{
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"}, {"version", "2.1.0"}, {"runs", json::array()}};
  if (std::ifstream in(dir / "check.sarif"); in) {
    const json check = json::parse(in, nullptr, false);
    if (!check.is_discarded() && check.contains("runs"))
      for (const json& run : check["runs"]) sarif["runs"].push_back(run);
  }
  sarif["runs"].push_back(sarifGateRun(document));
  if (auto r = write("gate.sarif", dumped(sarif)); !r) return r;
  // The two that say ship come last: they must not stand beside a report that failed.
  if (auto r = write("gate.json", dumped(document)); !r) return r;
  return write("gate.html", gateHtml(document));
}

std::string gateSummaryText(const json& d) {
  std::string out = fmt::format("{:<6} {:<14} {:<8} {:<11} {:<8} {}\n", "arch", "function", "check", "trampoline",
                                "onhost", "verdict");
  for (const json& f : d["functions"])
    out += fmt::format("{:<6} {:<14} {:<8} {:<11} {:<8} {}\n", jsonText(f, "arch"), jsonText(f, "function"),
                       jsonText(f, "check"), jsonText(f, "trampoline"), jsonText(f, "onhost"), jsonText(f, "verdict"));
  std::string notRun;
  for (const auto& [stage, settings] : d["stages"].items())
    if (!settings.value("run", true)) notRun += (notRun.empty() ? "" : ", ") + stage;
  if (d.contains("interrupted"))
    out += fmt::format("interrupted by {}: the stage running stopped, the jobs after it did not run\n",
                       jsonText(d, "interrupted"));
  if (d.contains("shard") && d.contains("interrupted"))
    out +=
        fmt::format("SHARD {}: interrupted before it finished its part: DO NOT SHIP\n", jsonText(d["shard"], "shard"));
  else if (d.contains("shard"))
    out += d.value("part_failed", true)
               ? fmt::format("SHARD {}: a patched function failed a stage in this part: DO NOT SHIP\n",
                             jsonText(d["shard"], "shard"))
               : fmt::format("SHARD {}: nothing failed in this part; hph merge of every shard's gate.json says ship "
                             "or not\n",
                             jsonText(d["shard"], "shard"));
  else
    out += d["ship"].get<bool>()       ? fmt::format("SHIP: every patched function passed every stage{}\n",
                                                     notRun.empty() ? "" : " that ran (not run: " + notRun + ")")
           : d.contains("interrupted") ? "DO NOT SHIP: the gate was interrupted before it finished\n"
                                       : "DO NOT SHIP: a patched function failed a stage (gate.html says which)\n";
  return out;
}

}  // namespace hph
