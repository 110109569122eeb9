// The HTML report (`hph check --html`, `hph merge --html`): one self-contained page, read
// in a real browser. Headless Chromium (Debian's chromium) loads it; the DOM it renders
// must hold the decision, the verdicts and a timeline with a lane per thread and one for
// the patcher; a screenshot is kept next to the test binary (an artifact, not checked in).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "TestSupport.h"

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

// A canary caught as expected and a safe scenario: ship, with one counterexample drawn.
std::string shippingReport() {
  const std::string html = writeTempFile("ship.html", {});
  const CommandResult r = runHph({"check", corpusScenario("patch-racy-replacement.x64.toml"),
                                  corpusScenario("patch-padding-short-jmp.x64.toml"), "--strategy", "random",
                                  "--schedules", "200", "--html", html},
                                 240);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  return html;
}

TEST(HtmlReport, IsSelfContainedAndSaysWhatTheReportsSay) {
  const std::string page = readText(shippingReport());
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
