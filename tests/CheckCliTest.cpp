// `hph check` and `hph replay` from the command line: verdict lines, exit codes, JSON
// determinism, replay tokens and files, Chrome traces, scenario errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/TestSupport.h"

namespace hph::test {
namespace {

using nlohmann::json;

std::string scenario(const std::string& name) { return corpusScenario(name); }

std::string replayToken(const std::string& output) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(output, m, std::regex("hph replay (hph1\\.[A-Za-z0-9_-]+)"))) << output;
  return m.size() > 1 ? m[1].str() : "";
}

json readJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

json withoutTiming(json j) {
  j.erase("timing");
  for (auto& s : j["scenarios"]) s.erase("timing");
  return j;
}

TEST(CheckCli, CanaryIsCaughtAndKeepsCiGreen) {
  const CommandResult r = runHph({"check", scenario("race.x64.toml"), "--jobs", "1"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS race-x64: violation:invariant (as expected)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("race_verify() returned 0"), std::string::npos);
  EXPECT_NE(r.out.find("counterexample: 1 preemption"), std::string::npos);
  EXPECT_TRUE(r.err.empty()) << "progress goes to a terminal only: " << r.err;
}

TEST(CheckCli, UnexpectedVerdictIsExitCode1) {
  // The same race, expected to hold: the tool must fail the gate.
  const std::string path = scenarioVariant("race.arm64.toml", {{"expect = \"violation:invariant\"", "expect = \"holds\""}},
                                           "race-expected-to-hold.toml");
  const CommandResult r = runHph({"check", path, "--jobs", "1"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.out.find("FAIL race-arm64: violation:invariant (expected holds)"), std::string::npos) << r.out;
  // With a bad scenario alongside, bad input wins: exit 2.
  const CommandResult both = runHph({"check", path, "/nonexistent.toml", "--jobs", "1"});
  EXPECT_EQ(both.exitCode, 2);
}

TEST(CheckCli, SameSeedGivesIdenticalJsonApartFromTiming) {
  const std::string a = writeTempFile("a.json", {}), b = writeTempFile("b.json", {}), c = writeTempFile("c.json", {});
  const std::vector<std::string> scenarios = {scenario("race.arm64.toml"), scenario("atomic.x64.toml"),
                                              scenario("ordering.x64.toml")};
  auto args = [&](const std::string& out, const std::string& jobs) {
    std::vector<std::string> v = {"check"};
    v.insert(v.end(), scenarios.begin(), scenarios.end());
    v.insert(v.end(), {"--json", out, "--jobs", jobs});
    return v;
  };
  ASSERT_EQ(runHph(args(a, "1")).exitCode, 0);
  ASSERT_EQ(runHph(args(b, "1")).exitCode, 0);
  ASSERT_EQ(runHph(args(c, "2")).exitCode, 0);
  const json ja = readJson(a), jb = readJson(b), jc = readJson(c);
  EXPECT_EQ(ja["schema"], "hph-check/2");
  EXPECT_EQ(withoutTiming(ja), withoutTiming(jb));
  EXPECT_EQ(withoutTiming(ja), withoutTiming(jc)) << "the number of jobs must not change results";
  EXPECT_EQ(ja["scenarios"][1]["exploration"]["exhausted"], true);
  EXPECT_EQ(ja["scenarios"][0]["counterexample"]["property"], "invariant");
}

TEST(CheckCli, ReplayTokenReproducesTheCounterexample) {
  const std::string dir = writeTempFile("dummy", {}) + ".traces";
  const CommandResult r = runHph({"check", scenario("race.arm64.toml"), "--strategy", "random",
                                  "--seed", "3", "--trace-dir", dir});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  const std::string token = replayToken(r.out);
  for (const std::string& source : {token, dir + "/race-arm64.replay", dir + "/race-arm64.trace.json"}) {
    const CommandResult replay = runHph({"replay", source, "--json"});
    EXPECT_EQ(replay.exitCode, 1) << source << ": " << replay.err;
    const json out = json::parse(replay.out);
    EXPECT_EQ(out["verdict"], "violated");
    EXPECT_EQ(out["violation"]["property"], "invariant");
    EXPECT_EQ(out["invariant_value"], 0);
  }
  // The trace opens in Perfetto: trace events, one named track per actor.
  const json trace = readJson(dir + "/race-arm64.trace.json");
  std::set<std::string> tracks;
  for (const auto& e : trace["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks.insert(e["args"]["name"]);
  EXPECT_EQ(tracks, (std::set<std::string>{"thread 0", "thread 1"}));
  EXPECT_EQ(trace["otherData"]["replay"], token);
  // replay --trace writes the same schedule.
  const std::string again = dir + "/again.json";
  EXPECT_EQ(runHph({"replay", token, "--trace", again}).exitCode, 1);
  EXPECT_EQ(readJson(again)["traceEvents"], trace["traceEvents"]);
}

TEST(CheckCli, ReplayRefusesTokensWhoseInputsChanged) {
  auto text = readFile(scenario("race.x64.toml"));
  std::string toml(text.begin(), text.end());
  toml = std::regex_replace(toml, std::regex("\\.\\./images/"), std::string(HPH_CORPUS_DIR) + "/images/");
  const std::string path = writeTempFile("race-copy.toml", {toml.begin(), toml.end()});
  const CommandResult r = runHph({"check", path, "--jobs", "1"});
  const std::string token = replayToken(r.out);
  EXPECT_EQ(runHph({"replay", token}).exitCode, 1);
  toml += "\n# edited\n";
  writeTempFile("race-copy.toml", {toml.begin(), toml.end()});
  const CommandResult changed = runHph({"replay", token});
  EXPECT_EQ(changed.exitCode, 2);
  EXPECT_NE(changed.err.find("changed since the token was made"), std::string::npos) << changed.err;
  EXPECT_EQ(runHph({"replay", "hph1.garbage!"}).exitCode, 2);
  EXPECT_EQ(runHph({"replay", "not-a-token-or-file"}).exitCode, 2);
}

TEST(CheckCli, ScenarioErrorsNameTheFileAndField) {
  struct Case { std::string toml; std::string expected; };
  const std::string image = std::string(HPH_CORPUS_DIR) + "/images/race.x64.dll";
  const std::string head = "name = \"t\"\narch = \"x64\"\nbase = \"" + image + "\"\n";
  const Case cases[] = {
      {head + "[threads]\ncount = 2\nentry = \"race_wroker\"\n", "[threads].entry: 'race_wroker' is not a function"},
      {head + "[threads]\ncount = 2\nentry = \"race_worker\"\ntreads = 3\n", "[threads].treads: unknown key"},
      {head + "[threads]\ncount = 0\nentry = \"race_worker\"\n", "[threads].count: 0 is not in 1..256"},
      {head + "[threads]\ncount = 2\nentry = \"race_worker\"\n[explore]\nstrategy = \"dfs\"\n", "[explore].strategy: 'dfs'"},
      {head + "[threads]\ncount = 2\nentry = \"race_worker\"\n[explore]\npoints = \"watched\"\n", "[explore].points: 'watched' but nothing is watched"},
      {head + "[threads]\ncount = 2\nentry = \"race_worker\"\n[[host_write]]\ntarget = \"racy_increment+9999\"\nbytes = \"cc\"\n", "[[host_write]][0].target"},
      {head + "[threads]\ncount = 2\nentry = \"race_worker\"\n[[host_write]]\ntarget = \"racy_increment\"\nbytes = \"zz\"\n", "[[host_write]][0].bytes"},
      {"name = \"t\"\narch = \"arm64\"\nbase = \"" + image + "\"\n[threads]\ncount = 1\nentry = \"race_worker\"\n", "arch: scenario says arm64"},
      {"name = [", "t.toml:1:"},
  };
  for (const Case& c : cases) {
    const std::string path = writeTempFile("t.toml", {c.toml.begin(), c.toml.end()});
    const CommandResult r = runHph({"check", path});
    EXPECT_EQ(r.exitCode, 2) << c.expected;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << "expected '" << c.expected << "' in " << r.err;
  }
  EXPECT_EQ(runHph({"check", scenario("race.x64.toml"), "--shard", "3/2"}).exitCode, 2);
  EXPECT_EQ(runHph({"check", scenario("race.x64.toml"), "--strategy", "dfs"}).exitCode, 2);
}

TEST(CheckCli, MaxTimeGivesAPartialReport) {
  const std::string out = writeTempFile("partial.json", {});
  const CommandResult r = runHph({"check", scenario("atomic64.arm64.toml"), "--schedules", "100000000",
                                  "--max-time", "0.5", "--json", out});
  EXPECT_EQ(r.exitCode, 0) << r.out;
  EXPECT_NE(r.out.find("stopped by --max-time"), std::string::npos) << r.out;
  EXPECT_EQ(readJson(out)["scenarios"][0]["exploration"]["stopped_by"], "max-time");
}

}  // namespace
}  // namespace hph::test
