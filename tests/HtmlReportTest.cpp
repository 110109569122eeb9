// The HTML report (`hph check --html`, `hph merge --html`): one self-contained page, read
// in a real browser. Headless Chromium (Debian's chromium) loads it; the DOM it renders
// must hold the decision, the verdicts and a timeline with a lane per thread and one for
// the patcher; a screenshot is kept next to the test binary (an artifact, not checked in).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "TestSupport.h"

#include <map>

namespace hph::test {
namespace {

std::string readText(const std::string& path) {
  const std::vector<uint8_t> bytes = readFile(path);
  return std::string(bytes.begin(), bytes.end());
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A canary caught as expected and a safe scenario: ship, with one counterexample drawn
// (its JSON report beside it).
std::string shippingReport(std::string* jsonPath = nullptr) {
  const std::string html = writeTempFile("ship.html", {}), json = writeTempFile("ship.json", {});
  const CommandResult r = runHph({"check", corpusScenario("patch-racy-replacement.x64.toml"),
                                  corpusScenario("patch-padding-short-jmp.x64.toml"), "--strategy", "random",
                                  "--schedules", "200", "--html", html, "--json", json},
                                 240);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  if (jsonPath) *jsonPath = json;
  return html;
}

// The x of each rect of `cls`, by its data-order (the order the slices ran).
std::map<int, double> rectsByOrder(const std::string& page, const std::string& cls) {
  std::map<int, double> xs;
  const std::regex rect("<rect class=\"" + cls + "\" data-order=\"([0-9]+)\" x=\"([0-9.]+)\"");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), rect); it != std::sregex_iterator(); ++it)
    xs[std::stoi((*it)[1])] = std::stod((*it)[2]);
  return xs;
}

TEST(HtmlReport, IsSelfContainedAndSaysWhatTheReportsSay) {
  std::string jsonPath;
  const std::string page = readText(shippingReport(&jsonPath));
  const nlohmann::json report = nlohmann::json::parse(readText(jsonPath));
  EXPECT_NE(page.find("<h1 id=\"decision\" class=\"ship\">Ship</h1>"), std::string::npos);
  EXPECT_NE(page.find("2 of 2 scenarios as expected; exit code 0."), std::string::npos);
  EXPECT_NE(page.find(">violation:invariant</td>"), std::string::npos);
  EXPECT_NE(page.find(">holds</td>"), std::string::npos);
  // Nothing is fetched: no script, no link, no external resource (the SVG namespace is a
  // name, not a fetch).
  for (const char* fetching : {"<script", "<link", "src=", "href=", "@import", "url("})
    EXPECT_EQ(page.find(fetching), std::string::npos) << fetching;
  EXPECT_EQ(count(page, "http"), count(page, "http://www.w3.org/2000/svg"));
  // The canary's timeline: its three threads and the patcher, the violation, the replay.
  EXPECT_EQ(count(page, "<svg class=\"timeline\""), 1u);
  EXPECT_EQ(count(page, "<g class=\"lane\""), 4u);
  EXPECT_NE(page.find("data-actor=\"patcher\""), std::string::npos);
  EXPECT_EQ(count(page, "<line class=\"violation\""), 1u);
  // On the violating actor's lane, or across all when the run broke as a whole.
  const std::string actor = report["scenarios"][0]["counterexample"]["actor"];
  const bool onALane = page.find("<g class=\"lane\" data-actor=\"" + actor + "\"") != std::string::npos;
  EXPECT_NE(page.find("<line class=\"violation\" data-actor=\"" + std::string(onALane ? actor : "all") + "\""),
            std::string::npos)
      << actor;
  // Every slice in the order it ran, each in a column of its own: the patcher's steps
  // (which retire no instructions) apart from each other and from the threads'.
  std::map<int, double> all = rectsByOrder(page, "thread");
  const std::map<int, double> steps = rectsByOrder(page, "patcher");
  EXPECT_EQ(steps.size(), report["scenarios"][0]["counterexample"]["timeline"].size() - all.size());
  ASSERT_FALSE(steps.empty());
  all.insert(steps.begin(), steps.end());
  EXPECT_EQ(all.size(), report["scenarios"][0]["counterexample"]["timeline"].size());
  double previous = -1;
  for (const auto& [order, x] : all) {
    EXPECT_GT(x, previous) << "slice " << order;
    previous = x;
  }
  EXPECT_NE(page.find("<text class=\"step\""), std::string::npos);
  EXPECT_NE(page.find("<pre class=\"replay\">hph replay hph2."), std::string::npos);

  // A search cut short is no pass: do not ship.
  const std::string cut = writeTempFile("noship.html", {});
  const CommandResult r = runHph({"check", corpusScenario("patch-padding-short-jmp.x64.toml"), "--strategy",
                                  "exhaustive", "--schedules", "5", "--html", cut},
                                 240);
  EXPECT_EQ(r.exitCode, 4) << r.out << r.err;
  const std::string stopped = readText(cut);
  EXPECT_NE(stopped.find("<h1 id=\"decision\" class=\"noship\">Do not ship</h1>"), std::string::npos);
  EXPECT_NE(stopped.find(">inconclusive</td>"), std::string::npos);

  // One shard of a search that holds exits 0, but it is not the release verdict.
  const std::string shard = writeTempFile("shard.html", {});
  const CommandResult part = runHph({"check", corpusScenario("patch-padding-short-jmp.x64.toml"), "--strategy",
                                     "random", "--schedules", "30", "--shard", "1/3", "--html", shard},
                                    240);
  EXPECT_EQ(part.exitCode, 0) << part.out << part.err;
  const std::string partial = readText(shard);
  EXPECT_NE(partial.find("<h1 id=\"decision\" class=\"noship\">Do not ship</h1>"), std::string::npos);
  EXPECT_NE(partial.find("explored only shard 1/3: merge the shards"), std::string::npos);
}

// What a report says is text, never markup: a forged digest and message in a shard
// report come out escaped (and the digest named as not one).
TEST(HtmlReport, EscapesWhatTheReportsSay) {
  std::vector<std::string> reports;
  for (int i = 0; i < 2; ++i) {
    const std::string report = writeTempFile("escape-shard" + std::to_string(i) + ".json", {});
    const CommandResult shard = runHph({"check", corpusScenario("race.x64.toml"), "--strategy", "random", "--schedules",
                                        "20", "--shard", std::to_string(i) + "/2", "--json", report},
                                       240);
    ASSERT_TRUE(shard.exitCode == 0 || shard.exitCode == 1) << shard.out << shard.err;
    reports.push_back(report);
  }
  for (const std::string& path : reports) {
    nlohmann::json forged = nlohmann::json::parse(readText(path));
    forged["scenarios"][0]["provenance"]["hph_version"] = "<b>9</b>";
    if (forged["scenarios"][0].contains("counterexample"))
      forged["scenarios"][0]["counterexample"]["message"] = "<script>alert(1)</script>";
    const std::string text = forged.dump();
    writeTempFile(std::filesystem::path(path).filename().string(), std::vector<uint8_t>(text.begin(), text.end()));
  }
  const std::string html = writeTempFile("escaped.html", {});
  const CommandResult r = runHph({"merge", reports[0], reports[1], "--html", html}, 60);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  const std::string page = readText(html);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("<b>9</b>"), std::string::npos);
  EXPECT_NE(page.find("&lt;b&gt;9&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
}

// The page as a browser renders it.
TEST(HtmlReport, RendersInChromium) {
  const std::string chromium = "/usr/bin/chromium";
  ASSERT_TRUE(std::filesystem::exists(chromium)) << "Debian's chromium is missing: ci/install-deps.sh installs it";
  const std::string page = shippingReport();
  const std::string profile = std::filesystem::path(writeTempFile("chromium-profile", {})).string() + ".d";
  const std::vector<std::string> common{"--headless",     "--no-sandbox",
                                        "--disable-gpu",  "--disable-dev-shm-usage",
                                        "--no-first-run", "--user-data-dir=" + profile};
  std::vector<std::string> dump = common;
  dump.insert(dump.end(), {"--dump-dom", "file://" + page});
  const CommandResult dom = runProgram(chromium, dump, 120);
  ASSERT_EQ(dom.exitCode, 0) << dom.err;
  EXPECT_NE(dom.out.find("id=\"decision\" class=\"ship\">Ship</h1>"), std::string::npos) << dom.out.substr(0, 400);
  EXPECT_NE(dom.out.find("violation:invariant"), std::string::npos);
  EXPECT_EQ(count(dom.out, "class=\"lane\""), 4u);
  EXPECT_EQ(count(dom.out, "class=\"violation\""), 1u);
  // Every slice of every lane is drawn (the patcher's steps among them).
  EXPECT_GT(count(dom.out, "<rect class=\"patcher\""), 0u);
  EXPECT_GT(count(dom.out, "<rect class=\"thread\""), 2u);
  const std::string shot = (std::filesystem::current_path() / "html-report.png").string();
  std::vector<std::string> screenshot = common;
  screenshot.insert(screenshot.end(), {"--window-size=1200,1400", "--screenshot=" + shot, "file://" + page});
  const CommandResult png = runProgram(chromium, screenshot, 120);
  EXPECT_EQ(png.exitCode, 0) << png.err;
  ASSERT_TRUE(std::filesystem::exists(shot));
  EXPECT_GT(std::filesystem::file_size(shot), 10000u);
  const std::vector<uint8_t> head = readFile(shot);
  ASSERT_GE(head.size(), 8u);
  EXPECT_EQ(std::string(head.begin() + 1, head.begin() + 4), "PNG");
  std::filesystem::remove_all(profile);
}

// hph merge draws the merged counterexample too: its timeline comes from the shard that
// traced it.
TEST(HtmlReport, MergeDrawsTheMergedCounterexample) {
  std::vector<std::string> args{"merge"};
  for (int i = 0; i < 3; ++i) {
    const std::string report = writeTempFile("html-shard" + std::to_string(i) + ".json", {});
    const CommandResult r = runHph({"check", corpusScenario("canary-no-move-pc.x64.toml"), "--strategy", "exhaustive",
                                    "--shard", std::to_string(i) + "/3", "--json", report},
                                   240);
    ASSERT_TRUE(r.exitCode == 0 || r.exitCode == 1) << r.out << r.err;
    args.push_back(report);
  }
  const std::string html = writeTempFile("merged.html", {});
  args.insert(args.end(), {"--html", html});
  const CommandResult merged = runHph(args, 120);
  ASSERT_EQ(merged.exitCode, 0) << merged.out << merged.err;
  const std::string page = readText(html);
  EXPECT_NE(page.find("<h1 id=\"decision\" class=\"ship\">Ship</h1>"), std::string::npos);
  EXPECT_NE(page.find(">violation:C3</td>"), std::string::npos);
  EXPECT_EQ(count(page, "<svg class=\"timeline\""), 1u);
  const CommandResult overwrite = runHph({"merge", args[1], args[2], args[3], "--html", args[1]}, 60);
  EXPECT_EQ(overwrite.exitCode, 2);
  EXPECT_NE(overwrite.err.find("a merged report must not overwrite an input"), std::string::npos) << overwrite.err;
}

}  // namespace
}  // namespace hph::test
