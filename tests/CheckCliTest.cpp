// `hph check` and `hph replay` from the command line: verdict lines, exit codes, JSON
// determinism, replay tokens and files, Chrome traces, scenario errors.
#include <fmt/format.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <csignal>
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
  EXPECT_TRUE(std::regex_search(output, m, std::regex("hph replay (hph2\\.[A-Za-z0-9_-]+)"))) << output;
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
  const std::string path = scenarioVariant(
      "race.arm64.toml", {{"expect = \"violation:invariant\"", "expect = \"holds\""}}, "race-expected-to-hold.toml");
  const CommandResult r = runHph({"check", path, "--jobs", "1"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.out.find("FAIL race-arm64: violation:invariant (expected holds)"), std::string::npos) << r.out;
  // With a bad scenario alongside, bad input wins: exit 2.
  const CommandResult both = runHph({"check", path, "/nonexistent.toml", "--jobs", "1"});
  EXPECT_EQ(both.exitCode, 2);
}

// H5: [chpe] restriction = true models HotPatchRestrictions=1. A patch to an image with
// CHPE metadata is refused, naming the policy (the canary); the same restriction on an
// image without CHPE metadata changes nothing (the case that holds).
TEST(CheckCli, ChpeRestrictionRefusesPatchesToImagesWithChpeMetadataOnly) {
  const std::string restricted = scenarioVariant(
      "patch-padding-short-jmp.x64.toml",
      {{"counter\\.x64\\.dll", "hybrid.arm64ec.dll"}, {"\\[check\\]", "[chpe]\nrestriction = true\n\n[check]"}},
      "chpe-restricted.toml");
  const CommandResult refused = runHph({"check", restricted, "--jobs", "1"});
  EXPECT_EQ(refused.exitCode, 2) << refused.out << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  EXPECT_NE(refused.err.find(restricted + ": [chpe].restriction: HotPatchRestrictions=1 refuses hotpatches"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("the base hybrid.arm64ec.dll has it"), std::string::npos) << refused.err;
  // Without the restriction the same image is refused for another reason (no threads on
  // both engines yet), which names the code map, not the policy.
  const std::string unrestricted = scenarioVariant(
      "patch-padding-short-jmp.x64.toml", {{"counter\\.x64\\.dll", "hybrid.arm64ec.dll"}}, "chpe-unrestricted.toml");
  const CommandResult hybrid = runHph({"check", unrestricted, "--jobs", "1"});
  EXPECT_EQ(hybrid.exitCode, 2);
  EXPECT_EQ(hybrid.err.find("[chpe].restriction"), std::string::npos) << hybrid.err;
  EXPECT_NE(hybrid.err.find("CHPE metadata.CodeMap"), std::string::npos) << hybrid.err;
  const std::string plain =
      scenarioVariant("patch-padding-short-jmp.x64.toml", {{"\\[check\\]", "[chpe]\nrestriction = true\n\n[check]"}},
                      "chpe-restricted-plain.toml");
  const CommandResult holds = runHph({"check", plain, "--jobs", "2"});
  EXPECT_EQ(holds.exitCode, 0) << holds.out << holds.err;
  EXPECT_NE(holds.out.find("PASS"), std::string::npos) << holds.out;
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
  EXPECT_EQ(ja["schema"], "hph-check/3");
  EXPECT_EQ(withoutTiming(ja), withoutTiming(jb));
  EXPECT_EQ(withoutTiming(ja), withoutTiming(jc)) << "the number of jobs must not change results";
  EXPECT_EQ(ja["scenarios"][1]["exploration"]["exhausted"], true);
  EXPECT_EQ(ja["scenarios"][0]["counterexample"]["property"], "invariant");
}

TEST(CheckCli, ReplayTokenReproducesTheCounterexample) {
  const std::string dir = writeTempFile("dummy", {}) + ".traces";
  const CommandResult r =
      runHph({"check", scenario("race.arm64.toml"), "--strategy", "random", "--seed", "3", "--trace-dir", dir});
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

// Code that does not decode is bad input, never a refusal a scenario may expect: a target
// without .pdata whose bytes do not decode (its length estimated as 1 byte) once passed as
// "refused as expected: function is 1 bytes".
TEST(CheckCli, UndecodableTargetIsBadInputNotAnExpectedRefusal) {
  auto image = readFile(corpusImage("counter.x64.dll"));
  auto parsed = parsePeImage(image, corpusImage("counter.x64.dll"));
  ASSERT_TRUE(parsed.ok());
  const FunctionInfo* bump = parsed->findFunction("bump");
  ASSERT_NE(bump, nullptr);
  const auto at = parsed->fileOffset(bump->begin, 16);
  ASSERT_TRUE(at);
  std::fill_n(image.begin() + *at, 16, uint8_t{0x06});  // push es: no instruction in 64-bit mode
  const std::string base = writeTempFile("counter-garbled.x64.dll", image);
  for (const char* name : {"patch-stop-the-world.x64.toml", "patch-padding-short-jmp.x64.toml"}) {
    const std::string variant = scenarioVariant(
        name, {{"\"[^\"]*counter\\.x64\\.dll\"", "\"" + base + "\""}, {"\\[check\\]", "[check]\nexpect = \"refused\""}},
        std::string("garbled-") + name);
    const CommandResult r = runHph({"check", variant, "--jobs", "1"});
    EXPECT_EQ(r.exitCode, 2) << name << r.out << r.err;
    EXPECT_NE(r.err.find("function 'bump': first instruction"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("does not decode"), std::string::npos) << r.err;
  }
}

// A patch of two functions whose threads call only one of them: the search checks the
// other nowhere, so its "holds" would say nothing about it. It is vacuous, naming that
// function (the series' threads call bump alone; before, any exercised site made it hold).
TEST(CheckCli, APatchSiteNoThreadExercisesMakesTheCheckVacuous) {
  for (const char* name : {"patch-series.x64.toml", "patch-series.arm64.toml"}) {
    const std::string variant =
        scenarioVariant(name, {{"entry = \"series_worker\"", "entry = \"patch_worker\""}, {"series_verify", "verify"}},
                        std::string("bump-only-") + name);
    const std::string report = writeTempFile(std::string("bump-only-") + name + ".json", {});
    const std::string junit = writeTempFile(std::string("bump-only-") + name + ".xml", {});
    const CommandResult r = runHph({"check", variant, "--jobs", "1", "--json", report, "--junit", junit}, 300);
    EXPECT_EQ(r.exitCode, 1) << name << r.out << r.err;
    EXPECT_NE(r.out.find(": vacuous (expected holds)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("vacuous: 'bump_keyed' never exercised"), std::string::npos) << r.out;
    const std::vector<uint8_t> bytes = readFile(report);
    const nlohmann::json vacuity =
        nlohmann::json::parse(std::string(bytes.begin(), bytes.end()))["scenarios"][0]["vacuity"];
    EXPECT_EQ(vacuity["unexercised_sites"], nlohmann::json::array({"bump_keyed"})) << vacuity;
    EXPECT_EQ(vacuity["vacuous"], true);
    EXPECT_GT(vacuity["patched_calls"].get<uint64_t>(), 0u);  // bump's sites were exercised
    const std::vector<uint8_t> xml = readFile(junit);
    EXPECT_NE(std::string(xml.begin(), xml.end()).find("never exercised: 'bump_keyed'"), std::string::npos)
        << std::string(xml.begin(), xml.end());

    // The scenario as bundled calls both: it holds, every site exercised.
    const std::string whole = writeTempFile(std::string("series-") + name + ".json", {});
    const CommandResult both = runHph({"check", corpusScenario(name), "--jobs", "1", "--json", whole}, 300);
    EXPECT_EQ(both.exitCode, 0) << name << both.out << both.err;
    const std::vector<uint8_t> wholeBytes = readFile(whole);
    const nlohmann::json all =
        nlohmann::json::parse(std::string(wholeBytes.begin(), wholeBytes.end()))["scenarios"][0]["vacuity"];
    EXPECT_EQ(all["unexercised_sites"], nlohmann::json::array()) << all;
    EXPECT_EQ(all["exercised_sites"], nlohmann::json::array({0, 1, 2})) << all;
    // The second patch of bump is a site of its own, named so.
    EXPECT_EQ(all["sites"], nlohmann::json::array({"bump", "bump_keyed", "bump (patch 2)"})) << all;
  }
}

TEST(CheckCli, ReplayRefusesTokensWhoseInputsChangedAndNamesThem) {
  // A private copy of the scenario and of its base image, so both can be edited.
  const std::string base = writeTempFile("race-base.x64.dll", readFile(corpusImage("race.x64.dll")));
  auto text = readFile(scenario("race.x64.toml"));
  std::string toml(text.begin(), text.end());
  toml = std::regex_replace(toml, std::regex("\"\\.\\./images/race\\.x64\\.dll\""), "\"" + base + "\"");
  ASSERT_NE(toml.find(base), std::string::npos);
  const std::string path = writeTempFile("race-copy.toml", {toml.begin(), toml.end()});
  const CommandResult r = runHph({"check", path, "--jobs", "1"});
  const std::string token = replayToken(r.out);
  EXPECT_EQ(runHph({"replay", token}).exitCode, 1);

  // The base image changed (one byte of its last section's file padding).
  auto image = readFile(base);
  image.back() ^= 0x5A;
  writeTempFile("race-base.x64.dll", image);
  const CommandResult baseChanged = runHph({"replay", token});
  EXPECT_EQ(baseChanged.exitCode, 2);
  EXPECT_NE(baseChanged.err.find("the base image " + base + " changed since it was made"), std::string::npos)
      << baseChanged.err;
  image.back() ^= 0x5A;
  writeTempFile("race-base.x64.dll", image);
  EXPECT_EQ(runHph({"replay", token}).exitCode, 1);

  // The scenario changed.
  const std::string edited = toml + "\n# edited\n";
  writeTempFile("race-copy.toml", {edited.begin(), edited.end()});
  const CommandResult changed = runHph({"replay", token});
  EXPECT_EQ(changed.exitCode, 2);
  EXPECT_NE(changed.err.find("the scenario " + path + " changed since it was made"), std::string::npos) << changed.err;
  // --scenario: another copy decides by content.
  const std::string copy = writeTempFile("race-other-copy.toml", {toml.begin(), toml.end()});
  EXPECT_EQ(runHph({"replay", token, "--scenario", copy}).exitCode, 1);
  EXPECT_EQ(runHph({"replay", token, "--scenario", path}).exitCode, 2);
  EXPECT_EQ(runHph({"replay", "hph2.garbage!"}).exitCode, 2);
  EXPECT_EQ(runHph({"replay", "not-a-token-or-file"}).exitCode, 2);
  const CommandResult old = runHph({"replay", "hph1.AAAA"});
  EXPECT_EQ(old.exitCode, 2);
  EXPECT_NE(old.err.find("older hph"), std::string::npos) << old.err;
}

// Tokens and .replay files name the scenario by absolute path: they replay from any
// directory, whatever path `check` was given.
TEST(CheckCli, ReplayWorksFromAnyDirectory) {
  const std::string dir = writeTempFile("dummy-any", {}) + ".traces";
  const std::string corpus = std::string(HPH_CORPUS_DIR);
  const CommandResult r =
      runProgram("/usr/bin/env", {"-C", corpus, HPH_BINARY, "check", "scenarios/race.x64.toml", "--trace-dir", dir});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  const std::string token = replayToken(r.out);
  // A file whose name starts with "hph" is a file, not a token.
  std::filesystem::copy_file(dir + "/race-x64.replay", dir + "/hph-case.replay",
                             std::filesystem::copy_options::overwrite_existing);
  for (const std::string& source : {token, dir + "/race-x64.replay", dir + "/hph-case.replay"}) {
    const CommandResult elsewhere = runProgram("/usr/bin/env", {"-C", "/", HPH_BINARY, "replay", source});
    EXPECT_EQ(elsewhere.exitCode, 1) << source << ": " << elsewhere.out << elsewhere.err;
    EXPECT_NE(elsewhere.out.find("violation:invariant"), std::string::npos) << elsewhere.out;
  }
}

TEST(CheckCli, ScenarioErrorsNameTheFileAndField) {
  struct Case {
    std::string toml;
    std::string expected;
  };
  const std::string image = std::string(HPH_CORPUS_DIR) + "/images/race.x64.dll";
  const std::string head = "name = \"t\"\narch = \"x64\"\nbase = \"" + image + "\"\n";
  const Case cases[] = {
      {head + "[threads]\ncount = 2\nentry = \"race_wroker\"\n", "[threads].entry: 'race_wroker' is not a function"},
      {head + "[threads]\ncount = 2\nentry = \"race_worker\"\ntreads = 3\n", "[threads].treads: unknown key"},
      {head + "[threads]\ncount = 0\nentry = \"race_worker\"\n", "[threads].count: 0 is not in 1..256"},
      {head + "[threads]\ncount = 2\nentry = \"race_worker\"\n[explore]\nstrategy = \"dfs\"\n",
       "[explore].strategy: 'dfs'"},
      {head + "[threads]\ncount = 2\nentry = \"race_worker\"\n[explore]\npoints = \"watched\"\n",
       "[explore].points: 'watched' but nothing is watched"},
      {head + "[threads]\ncount = 2\nentry = \"race_worker\"\n[[host_write]]\ntarget = \"racy_increment+9999\"\nbytes "
              "= \"cc\"\n",
       "[[host_write]][0].target"},
      {head + "[threads]\ncount = 2\nentry = \"race_worker\"\n[[host_write]]\ntarget = \"racy_increment\"\nbytes = "
              "\"zz\"\n",
       "[[host_write]][0].bytes"},
      {"name = \"t\"\narch = \"arm64\"\nbase = \"" + image + "\"\n[threads]\ncount = 1\nentry = \"race_worker\"\n",
       "arch: scenario says arm64"},
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

// Only a protocol's own refusal is the refusal a canary expects: a misspelt name in the
// same scenario is bad input (exit 2), never "refused as expected".
TEST(CheckCli, BadInputIsNeverTheExpectedRefusal) {
  const CommandResult refused = runHph({"check", scenario("patch-int3-3step-refused.x64.toml")});
  EXPECT_EQ(refused.exitCode, kExitHolds) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("refused as expected"), std::string::npos) << refused.out;
  const std::vector<std::pair<std::string, std::string>> typos[] = {
      {{"entry = \"worker\"", "entry = \"wroker\""}},
      {{"target = \"bump\"", "target = \"bmup\""}},
      {{"images/counter_patch", "images/no-such-patch"}},
  };
  for (const auto& typo : typos) {
    const std::string path = scenarioVariant("patch-int3-3step-refused.x64.toml", typo, "typo.toml");
    const CommandResult r = runHph({"check", path});
    EXPECT_EQ(r.exitCode, kExitBadInput) << r.out << r.err;
    EXPECT_EQ(r.out.find("PASS"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("typo.toml"), std::string::npos) << r.err;
  }
}

TEST(CheckCli, AVariantEditThatMatchesNothingFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(scenarioVariant("race.x64.toml", {{"no such text", "x"}}), "matches nothing");
}

// What a patch adds is watched by default; `watch` may name functions of any loaded
// image, with "image!name" to pick one.
TEST(CheckCli, WatchNamesFunctionsOfEveryLoadedImage) {
  for (const char* watch : {"account_v2", "account_patch!account_v2", "account_patch.x64.dll!account_v2"}) {
    const std::string path = scenarioVariant("patch-racy-replacement.x64.toml",
                                             {{"\\[explore\\]", fmt::format("[explore]\nwatch = [\"{}\"]", watch)}});
    const CommandResult r = runHph({"check", path});
    EXPECT_EQ(r.exitCode, kExitHolds) << watch << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("violation:invariant (as expected)"), std::string::npos) << r.out;
  }
  const std::string unknown = scenarioVariant("patch-racy-replacement.x64.toml",
                                              {{"\\[explore\\]", "[explore]\nwatch = [\"nope!account_v2\"]"}});
  const CommandResult noImage = runHph({"check", unknown});
  EXPECT_EQ(noImage.exitCode, kExitBadInput);
  EXPECT_NE(noImage.err.find("[explore].watch: 'nope!account_v2': no loaded image is called 'nope'"), std::string::npos)
      << noImage.err;
  // The same name in two loaded images is ambiguous without an image.
  const std::string twice = writeTempFile("twice.toml", [] {
    const std::string race = corpusImage("race.x64.dll");
    const std::string text = "name = \"twice\"\narch = \"x64\"\nbase = \"" + race + "\"\npatch = \"" + race +
                             "\"\n[[functions]]\ntarget = \"racy_increment\"\nreplacement = \"atomic_increment\"\n"
                             "[protocol]\nname = \"padding-short-jmp\"\n[threads]\ncount = 1\nentry = \"race_worker\"\n"
                             "[explore]\nwatch = [\"race_verify\"]\n";
    return std::vector<uint8_t>(text.begin(), text.end());
  }());
  const CommandResult ambiguous = runHph({"check", twice});
  EXPECT_EQ(ambiguous.exitCode, kExitBadInput);
  EXPECT_NE(ambiguous.err.find("names a function of race.x64.dll and of race.x64.dll"), std::string::npos)
      << ambiguous.err;
}

// A split RMW is a recorded choice: the counterexample's token replays to the same
// lost update.
TEST(CheckCli, ASplitRmwCounterexampleReplays) {
  const std::string out = writeTempFile("rmw.json", {});
  const CommandResult r = runHph({"check", scenario("rmw-inc.x64.toml"), "--json", out});
  ASSERT_EQ(r.exitCode, kExitHolds) << r.out;
  const auto report = readJson(out);
  const std::string token = report["scenarios"][0]["counterexample"]["replay"];
  const CommandResult replay = runHph({"replay", token});
  EXPECT_EQ(replay.exitCode, kExitViolated) << replay.out << replay.err;
  EXPECT_NE(replay.out.find("invariant"), std::string::npos) << replay.out;
}

// PCT's strict priorities would let the child of deadlock_worker spin on its flag until
// its budget (minutes, gigabytes); a starving actor drops below the others instead, and
// the deadlock is found at once.
TEST(CheckCli, PctDoesNotStarveASpinningThread) {
  const CommandResult r = runHph({"check", scenario("deadlock.x64.toml"), "--strategy", "pct", "--schedules", "5"}, 60);
  EXPECT_EQ(r.exitCode, kExitHolds) << r.out << r.err;
  EXPECT_NE(r.out.find("violation:deadlock (as expected)"), std::string::npos) << r.out;
}

// A search cut short answers nothing: `inconclusive`, exit 4, never a pass unless the
// user accepts partial results; how much was covered is said and the reports written.
TEST(CheckCli, MaxTimeIsInconclusiveNotAPass) {
  const std::string out = writeTempFile("partial.json", {});
  const std::string junit = writeTempFile("partial.xml", {});
  const CommandResult r = runHph({"check", scenario("atomic64.arm64.toml"), "--schedules", "100000000", "--max-time",
                                  "0.5", "--json", out, "--junit", junit});
  EXPECT_EQ(r.exitCode, kExitInconclusive) << r.out;
  EXPECT_NE(r.out.find("FAIL atomic64-arm64: inconclusive (expected holds)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stopped by --max-time 0.5 s"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("inconclusive"), std::string::npos) << r.err;
  const auto report = readJson(out);
  EXPECT_EQ(report["scenarios"][0]["verdict"], "inconclusive");
  EXPECT_EQ(report["scenarios"][0]["exploration"]["stopped_by"], "max-time");
  EXPECT_EQ(report["scenarios"][0]["exploration"]["exhausted"], false);
  EXPECT_GT(report["scenarios"][0]["exploration"]["schedules"].get<uint64_t>(), 0u);
  EXPECT_EQ(report["exit_code"], kExitInconclusive);
  const std::vector<uint8_t> xml = readFile(junit);
  EXPECT_NE(std::string(xml.begin(), xml.end()).find("<failure message=\"inconclusive"), std::string::npos);

  const CommandResult accepted = runHph({"check", scenario("atomic64.arm64.toml"), "--schedules", "100000000",
                                         "--max-time", "0.5", "--accept-partial", "--json", out});
  EXPECT_EQ(accepted.exitCode, kExitHolds) << accepted.out;
  EXPECT_NE(accepted.out.find("inconclusive (accepted: --accept-partial)"), std::string::npos) << accepted.out;
  EXPECT_EQ(readJson(out)["scenarios"][0]["verdict"], "inconclusive");
}

// The exhaustive search's schedule cap is a cut, like time.
TEST(CheckCli, AScheduleCapIsInconclusive) {
  const CommandResult r =
      runHph({"check", scenario("patch-b-direct.arm64.toml"), "--strategy", "exhaustive", "--schedules", "3"});
  EXPECT_EQ(r.exitCode, kExitInconclusive) << r.out;
  EXPECT_NE(r.out.find("stopped at the cap of 3 schedules"), std::string::npos) << r.out;
}

// A canary that was not caught in time failed, --accept-partial or not.
TEST(CheckCli, AcceptPartialNeverPassesAnUncaughtCanary) {
  const CommandResult r = runHph({"check", scenario("race.x64.toml"), "--max-time", "0.000001", "--accept-partial"});
  EXPECT_EQ(r.exitCode, kExitInconclusive) << r.out;
}

// Nor a search that ran nothing: a part stands for the whole only when it answered
// something (0 schedules once passed with --accept-partial).
TEST(CheckCli, AcceptPartialNeverPassesASearchThatRanNothing) {
  const CommandResult r = runHph({"check", scenario("patch-stop-the-world.x64.toml"), "--strategy", "random",
                                  "--max-time", "0.000001", "--accept-partial"});
  EXPECT_EQ(r.exitCode, kExitInconclusive) << r.out;
  EXPECT_EQ(r.out.find("(accepted: --accept-partial)"), std::string::npos) << r.out;
}

// SIGTERM (what `timeout` sends) and SIGINT stop the search, not the process: the verdict
// is inconclusive, scenarios not begun say so, and every report is written. The signal is
// sent once hph reports progress on the first scenario (a search under way), not after a
// guessed delay: a cold start under load can take longer than any fixed one.
TEST(CheckCli, ASignalLeavesEveryReport) {
  const std::string cue = "hph: atomic64-arm64";
  for (const int signal : {SIGTERM, SIGINT}) {
    const std::string tag = signal == SIGTERM ? "TERM" : "INT";
    const std::string json = writeTempFile("signal-" + tag + ".json", {});
    const std::string junit = writeTempFile("signal-" + tag + ".xml", {});
    const std::string sarif = writeTempFile("signal-" + tag + ".sarif", {});
    const CommandResult r =
        runHphSignalledOn({"check", scenario("atomic64.arm64.toml"), scenario("race.x64.toml"), "--schedules",
                           "100000000", "--progress", "0.05", "--json", json, "--junit", junit, "--sarif", sarif},
                          cue, signal, 300);
    ASSERT_FALSE(r.timedOut) << r.out << r.err;
    EXPECT_EQ(r.exitCode, kExitInconclusive) << r.out << r.err;
    EXPECT_NE(r.out.find("interrupted by a signal"), std::string::npos) << r.out << r.err;
    const auto report = readJson(json);
    ASSERT_EQ(report["scenarios"].size(), 2u);
    EXPECT_EQ(report["scenarios"][0]["verdict"], "inconclusive");
    EXPECT_EQ(report["scenarios"][0]["exploration"]["stopped_by"], "signal");
    EXPECT_EQ(report["scenarios"][1]["verdict"], "inconclusive");
    EXPECT_EQ(report["exit_code"], kExitInconclusive);
    EXPECT_FALSE(readFile(junit).empty());
    const auto sarifLog = readJson(sarif);
    EXPECT_EQ(sarifLog["runs"][0]["invocations"][0]["toolExecutionNotifications"].size(), 2u);
  }
  // --accept-partial accepts a cut-short search of a scenario expecting holds, never one
  // that was not explored at all.
  const std::string json = writeTempFile("signal-accept.json", {});
  const CommandResult accepted =
      runHphSignalledOn({"check", scenario("atomic64.arm64.toml"), scenario("race.x64.toml"), "--schedules",
                         "100000000", "--progress", "0.05", "--accept-partial", "--json", json},
                        cue, SIGTERM, 300);
  ASSERT_FALSE(accepted.timedOut) << accepted.out << accepted.err;
  const auto report = readJson(json);
  EXPECT_EQ(report["scenarios"][0]["exploration"]["accepted_partial"], true);
  EXPECT_EQ(report["scenarios"][1]["verdict"], "inconclusive");
  EXPECT_EQ(report["exit_code"], kExitInconclusive) << accepted.out;
}

// Each scenario is explored in a worker process: one that dies (here by injection, in
// the field a crash inside the emulator) costs its own scenario an internal error, and
// the other verdicts and every report survive. On the old in-process exploration the
// SIGSEGV ended hph itself (exit 139) with no report.
TEST(CheckCli, ADyingWorkerLeavesTheOtherVerdictsAndEveryReport) {
  const std::string json = writeTempFile("dying-worker.json", {});
  const std::string junit = writeTempFile("dying-worker.xml", {});
  setenv("HPH_TEST_WORKER_DIES", "atomic64-arm64:11", 1);
  const CommandResult r = runHph({"check", scenario("atomic64.arm64.toml"), scenario("race.x64.toml"), "--schedules",
                                  "100000000", "--json", json, "--junit", junit},
                                 300);
  unsetenv("HPH_TEST_WORKER_DIES");
  EXPECT_EQ(r.exitCode, kExitInternal) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL atomic64-arm64: internal-error — the exploration worker died of SIGSEGV"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("PASS race-x64: violation:invariant (as expected)"), std::string::npos) << r.out;
  const auto report = readJson(json);
  ASSERT_EQ(report["scenarios"].size(), 2u);
  EXPECT_EQ(report["scenarios"][0]["verdict"], "internal-error");
  EXPECT_EQ(report["scenarios"][0]["arch"], "arm64");
  EXPECT_EQ(report["scenarios"][0]["worker"]["signal"], "SIGSEGV (Segmentation fault)");
  EXPECT_GT(report["scenarios"][0]["worker"]["schedules_before_death"].get<uint64_t>(), 0u);
  EXPECT_EQ(report["scenarios"][1]["verdict"], "violation:invariant");
  EXPECT_EQ(report["scenarios"][1]["as_expected"], true);
  EXPECT_EQ(report["exit_code"], kExitInternal);
  const std::vector<uint8_t> xml = readFile(junit);
  const std::string junitText(xml.begin(), xml.end());
  EXPECT_NE(junitText.find("errors=\"1\""), std::string::npos) << junitText;
  EXPECT_NE(junitText.find("the exploration worker died of SIGSEGV"), std::string::npos) << junitText;
}

}  // namespace
}  // namespace hph::test
