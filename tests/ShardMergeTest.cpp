// Sharding on CI fleets: the shard from the engines' own variables (ShardSelection), and
// `hph merge` of the shards' reports, which must equal the unsharded run — verdict,
// schedule count, vacuity and first counterexample — for random, pct and exhaustive
// searches, while each shard explores only part of the work.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "TestSupport.h"
#include "harness/ShardSelection.h"

namespace hph::test {
namespace {

using nlohmann::json;

EnvironmentReader environment(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

std::string selectionError(const std::map<std::string, std::string>& vars,
                           const std::optional<std::string>& flag = std::nullopt,
                           const std::optional<uint32_t>& count = std::nullopt) {
  auto s = selectShard(flag, count, environment(vars));
  return s ? "" : s.error().message;
}

TEST(ShardSelection, ReadsEachEnginesConvention) {
  auto pick = [](const std::map<std::string, std::string>& vars, std::optional<uint32_t> count = std::nullopt) {
    auto s = selectShard(std::nullopt, count, environment(vars));
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? std::pair(s->shard.index, s->shard.count) : std::pair(99u, 99u);
  };
  EXPECT_EQ(pick({}), std::pair(0u, 1u));
  EXPECT_EQ(pick({{"GTEST_SHARD_INDEX", "2"}, {"GTEST_TOTAL_SHARDS", "5"}}), std::pair(2u, 5u));
  EXPECT_EQ(pick({{"TEST_SHARD_INDEX", "0"}, {"TEST_TOTAL_SHARDS", "3"}}), std::pair(0u, 3u));
  // GitLab counts from 1, and sets CI_NODE_TOTAL=1 in jobs that do not run in parallel.
  EXPECT_EQ(pick({{"CI_NODE_INDEX", "3"}, {"CI_NODE_TOTAL", "3"}}), std::pair(2u, 3u));
  EXPECT_EQ(pick({{"CI_NODE_TOTAL", "1"}}), std::pair(0u, 1u));
  // An empty variable is an unset one.
  EXPECT_EQ(pick({{"GTEST_SHARD_INDEX", ""}, {"GTEST_TOTAL_SHARDS", ""}}), std::pair(0u, 1u));
  EXPECT_EQ(pick({{"JOB_COMPLETION_INDEX", "4"}}, 8), std::pair(4u, 8u));
  // Two engines that agree (Bazel inside a GitLab parallel job, say).
  EXPECT_EQ(
      pick({{"CI_NODE_INDEX", "2"}, {"CI_NODE_TOTAL", "2"}, {"TEST_SHARD_INDEX", "1"}, {"TEST_TOTAL_SHARDS", "2"}}),
      std::pair(1u, 2u));
  // The flag wins over the environment.
  auto flagged = selectShard(std::string("1/2"), std::nullopt,
                             environment({{"GTEST_SHARD_INDEX", "0"}, {"GTEST_TOTAL_SHARDS", "4"}}));
  ASSERT_TRUE(flagged);
  EXPECT_EQ(flagged->shard.index, 1u);
  EXPECT_EQ(flagged->shard.count, 2u);
  EXPECT_EQ(flagged->source, "--shard");
}

TEST(ShardSelection, NamesWhatIsWrong) {
  EXPECT_EQ(selectionError({{"GTEST_SHARD_INDEX", "1"}}),
            "GTEST_SHARD_INDEX is set but GTEST_TOTAL_SHARDS is not: both name the shard");
  EXPECT_EQ(selectionError({{"TEST_TOTAL_SHARDS", "3"}}),
            "TEST_TOTAL_SHARDS is set but TEST_SHARD_INDEX is not: both name the shard");
  EXPECT_EQ(selectionError({{"GTEST_SHARD_INDEX", "3"}, {"GTEST_TOTAL_SHARDS", "3"}}),
            "GTEST_SHARD_INDEX=3 with 3 shards: the index must be 0 to 2");
  EXPECT_EQ(selectionError({{"CI_NODE_INDEX", "0"}, {"CI_NODE_TOTAL", "2"}}),
            "CI_NODE_INDEX=0 with 2 shards: the index must be 1 to 2");
  EXPECT_EQ(selectionError({{"GTEST_SHARD_INDEX", "0"}, {"GTEST_TOTAL_SHARDS", "0"}}),
            "GTEST_TOTAL_SHARDS=0: there is no shard to run");
  EXPECT_EQ(selectionError({{"GTEST_SHARD_INDEX", "x1"}, {"GTEST_TOTAL_SHARDS", "3"}}),
            "GTEST_SHARD_INDEX=x1: not a shard number (0 to 100000)");
  EXPECT_NE(selectionError({{"JOB_COMPLETION_INDEX", "1"}}).find("give the number of completions with --shard-count"),
            std::string::npos);
  EXPECT_EQ(selectionError({}, std::nullopt, 4),
            "--shard-count: JOB_COMPLETION_INDEX is not set (the count is for Kubernetes Indexed Jobs)");
  EXPECT_EQ(selectionError({}, std::string("0/2"), 4),
            "--shard-count: only with JOB_COMPLETION_INDEX, not with --shard");
  EXPECT_EQ(
      selectionError(
          {{"CI_NODE_INDEX", "1"}, {"CI_NODE_TOTAL", "2"}, {"GTEST_SHARD_INDEX", "1"}, {"GTEST_TOTAL_SHARDS", "2"}}),
      "GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS says shard 1/2 but CI_NODE_INDEX/CI_NODE_TOTAL says 0/2: which one?");
  EXPECT_EQ(selectionError({}, std::string("2/2")), "--shard '2/2': expected I/N with 0 <= I < N <= 100000");
}

// hph check takes its shard from Bazel's variables and touches the status file Bazel
// checks to know the test runner shards.
TEST(ShardSelection, CheckTakesTheShardFromTheEnvironmentAndTellsBazel) {
  const std::string status = writeTempFile("shard-status", {});
  std::filesystem::remove(status);
  const std::string report = writeTempFile("shard-env.json", {});
  const CommandResult r = runProgram("/usr/bin/env",
                                     {"TEST_SHARD_INDEX=1", "TEST_TOTAL_SHARDS=3", "TEST_SHARD_STATUS_FILE=" + status,
                                      HPH_BINARY, "check", corpusScenario("patch-padding-short-jmp.x64.toml"),
                                      "--strategy", "random", "--schedules", "30", "--json", report},
                                     120);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("shard 1/3 (from TEST_SHARD_INDEX/TEST_TOTAL_SHARDS)"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(status));
  const std::vector<uint8_t> bytes = readFile(report);
  const json parsed = json::parse(std::string(bytes.begin(), bytes.end()));
  EXPECT_EQ(parsed["scenarios"][0]["exploration"]["shard"], "1/3");
  EXPECT_EQ(parsed["scenarios"][0]["exploration"]["schedules"], 10);  // schedules 1, 4, ..., 28
  const CommandResult bad = runProgram("/usr/bin/env",
                                       {"GTEST_SHARD_INDEX=7", "GTEST_TOTAL_SHARDS=3", HPH_BINARY, "check",
                                        corpusScenario("patch-padding-short-jmp.x64.toml")},
                                       60);
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_NE(bad.err.find("GTEST_SHARD_INDEX=7 with 3 shards"), std::string::npos) << bad.err;
}

json readJson(const std::string& path) {
  const std::vector<uint8_t> bytes = readFile(path);
  return json::parse(std::string(bytes.begin(), bytes.end()));
}

// A report edited by a test, written to a temporary file of that name: its path.
std::string writeJson(const std::string& name, const json& report) {
  const std::string text = report.dump();
  return writeTempFile(name, std::vector<uint8_t>(text.begin(), text.end()));
}

struct Sharded {
  json whole;                             // the unsharded run's scenario report
  json merged;                            // hph merge's
  std::vector<json> shards;               // each shard's
  std::vector<std::string> shardReports;  // their files, by shard
  CommandResult mergeResult;
};

// The scenario explored whole and in `count` shards, the shards merged (given in reverse).
Sharded exploreSharded(const std::string& scenario, uint32_t count, const std::vector<std::string>& extra) {
  Sharded out;
  const std::string tag = std::filesystem::path(scenario).stem().string() + "-" + std::to_string(count);
  auto check = [&](const std::vector<std::string>& more, const std::string& report) {
    std::vector<std::string> args{"check", corpusScenario(scenario), "--json", report};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), more.begin(), more.end());
    const CommandResult r = runHph(args, 240);
    EXPECT_TRUE(r.exitCode == 0 || r.exitCode == 1 || r.exitCode == 4) << r.out << r.err;
    return readJson(report)["scenarios"][0];
  };
  out.whole = check({}, writeTempFile(tag + "-whole.json", {}));
  std::vector<std::string> reports;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string report = writeTempFile(fmt::format("{}-shard{}.json", tag, i), {});
    out.shards.push_back(check({"--shard", fmt::format("{}/{}", i, count)}, report));
    out.shardReports.push_back(report);
    reports.insert(reports.begin(), report);
  }
  const std::string merged = writeTempFile(tag + "-merged.json", {});
  std::vector<std::string> args{"merge"};
  args.insert(args.end(), reports.begin(), reports.end());
  args.insert(args.end(), {"--json", merged});
  out.mergeResult = runHph(args, 120);
  EXPECT_TRUE(out.mergeResult.exitCode == 0 || out.mergeResult.exitCode == 4)
      << out.mergeResult.out << out.mergeResult.err;
  out.merged = readJson(merged)["scenarios"][0];
  return out;
}

struct MergeCase {
  std::string scenario;
  uint32_t shards;
  std::vector<std::string> options;
};

class MergedShards : public ::testing::TestWithParam<MergeCase> {};

// Verdict, schedule count, vacuity and counterexample (its replay token) equal the
// unsharded run's.
TEST_P(MergedShards, EqualTheUnshardedRun) {
  const MergeCase& c = GetParam();
  const Sharded s = exploreSharded(c.scenario, c.shards, c.options);
  EXPECT_EQ(s.merged["verdict"], s.whole["verdict"]);
  EXPECT_EQ(s.merged["as_expected"], s.whole["as_expected"]);
  if (s.whole["verdict"] == "inconclusive") {
    // Cut short by the cap: what ran is not the unsharded run's; the verdict is.
    EXPECT_EQ(s.mergeResult.exitCode, 4);
    EXPECT_EQ(s.merged["exploration"]["stopped_by"], "schedule cap");
    return;
  }
  EXPECT_EQ(s.merged["exploration"]["schedules"], s.whole["exploration"]["schedules"]);
  EXPECT_EQ(s.merged["vacuity"]["steps_with_thread_in_window"], s.whole["vacuity"]["steps_with_thread_in_window"]);
  EXPECT_EQ(s.merged["vacuity"]["patched_calls"], s.whole["vacuity"]["patched_calls"]);
  EXPECT_EQ(s.merged["vacuity"]["exercised_sites"], s.whole["vacuity"]["exercised_sites"]);
  EXPECT_EQ(s.merged["vacuity"]["unexercised_sites"], s.whole["vacuity"]["unexercised_sites"]);
  ASSERT_EQ(s.merged.contains("counterexample"), s.whole.contains("counterexample"));
  if (s.whole.contains("counterexample")) {
    EXPECT_EQ(s.merged["counterexample"]["replay"], s.whole["counterexample"]["replay"]);
    EXPECT_EQ(s.merged["counterexample"]["property"], s.whole["counterexample"]["property"]);
  } else {
    EXPECT_EQ(s.merged["exploration"]["exhausted"], s.whole["exploration"]["exhausted"]);
  }
  // A search that holds is spread: each shard runs less than the whole, all of them
  // together little more (exhaustive: every alternative of the first run, where the
  // unsharded dpor search takes those races name). A shard that finds no violation goes
  // on to the next level, which another shard's violation ends: canaries are not spread.
  if (s.whole.contains("counterexample")) return;
  const uint64_t whole = s.whole["exploration"]["schedules"];
  uint64_t sum = 0;
  for (const json& shard : s.shards) {
    EXPECT_LT(shard["exploration"]["schedules"].get<uint64_t>(), whole);
    sum += shard["exploration"]["schedules"].get<uint64_t>();
  }
  EXPECT_LE(sum, whole * 3 / 2);
}

INSTANTIATE_TEST_SUITE_P(
    RandomPctExhaustive, MergedShards,
    ::testing::Values(
        // The violation comes at schedule 38 (seed 7): in shard 1 of 4, its 10th.
        MergeCase{"ordering.arm64.toml", 4, {"--strategy", "random"}},
        MergeCase{"ordering.arm64.toml", 3, {"--strategy", "pct"}},
        MergeCase{"patch-padding-short-jmp.x64.toml", 3, {"--strategy", "random", "--schedules", "600"}},
        // A patch exercised before the violation (schedule 2): the shard that found none
        // ran past it, and its schedules there must not count.
        MergeCase{"patch-racy-replacement.x64.toml", 2, {"--strategy", "random"}},
        // dpor: the shards take every alternative of the first run; the merge counts the
        // branches the unsharded search takes.
        MergeCase{"patch-padding-short-jmp.x64.toml", 3, {"--strategy", "exhaustive"}},
        MergeCase{"patch-b-direct.arm64.toml", 2, {"--strategy", "exhaustive"}},
        MergeCase{"canary-no-move-pc.x64.toml", 3, {"--strategy", "exhaustive"}},
        // The first run itself violates: shard 0 counts it, every shard finds it.
        MergeCase{"patch-naive-jmp5.x64.toml", 3, {"--strategy", "exhaustive"}},
        // Each shard stays under the cap, the branches the unsharded search takes do not:
        // inconclusive, as unsharded.
        MergeCase{"patch-padding-short-jmp.x64.toml", 3, {"--strategy", "exhaustive", "--schedules", "2000"}},
        MergeCase{"patch-racy-replacement.x64.toml", 4, {"--strategy", "exhaustive"}}));

// What cannot be merged is refused, naming the report and the field.
TEST(Merge, RefusesShardsThatDoNotMakeOneRun) {
  const Sharded s =
      exploreSharded("patch-padding-short-jmp.x64.toml", 3, {"--strategy", "random", "--schedules", "60"});
  const std::string zero = s.shardReports[0], b = s.shardReports[1], c = s.shardReports[2];
  auto merge = [](std::vector<std::string> args) {
    args.insert(args.begin(), "merge");
    return runHph(args, 60);
  };
  const CommandResult missing = merge({b, c});
  EXPECT_EQ(missing.exitCode, 2);
  EXPECT_NE(missing.err.find("shard 0/3 is missing (2 reports given)"), std::string::npos) << missing.err;
  const CommandResult twice = merge({b, b, c});
  EXPECT_EQ(twice.exitCode, 2);
  EXPECT_NE(twice.err.find("both are shard 1/3"), std::string::npos) << twice.err;

  json other = readJson(c);
  other["scenarios"][0]["provenance"]["base_sha256"] = std::string(64, '0');
  const std::string forged = writeJson("forged-shard2.json", other);
  const CommandResult inputs = merge({zero, b, forged});
  EXPECT_EQ(inputs.exitCode, 2);
  EXPECT_NE(inputs.err.find("provenance.base_sha256 differs"), std::string::npos) << inputs.err;
  other = readJson(c);
  other["scenarios"][0]["exploration"]["seed"] = 99;
  const std::string reseeded = writeJson("reseeded-shard2.json", other);
  const CommandResult seed = merge({zero, b, reseeded});
  EXPECT_EQ(seed.exitCode, 2);
  EXPECT_NE(seed.err.find("exploration.seed differs"), std::string::npos) << seed.err;
  const CommandResult notReport = merge({zero, b, corpusScenario("race.x64.toml")});
  EXPECT_EQ(notReport.exitCode, 2);
  EXPECT_NE(notReport.err.find("race.x64.toml: not JSON"), std::string::npos) << notReport.err;
  const CommandResult good = merge({c, zero, b});
  EXPECT_EQ(good.exitCode, 0) << good.err;
}

// Sites are merged one by one, as the unsharded run tells them apart: a series whose
// threads call bump alone is vacuous merged too, naming bump_keyed (the merge once summed
// counters over every site). A shard whose per-site vacuity is not hph check's is refused.
TEST(Merge, NamesTheSiteNoShardExercisedAsTheWholeRunDoes) {
  const std::string variant = scenarioVariant("patch-series.x64.toml",
                                              {{"entry = \"series_worker\"", "entry = \"patch_worker\""},
                                               {"series_verify", "verify"},
                                               {"\\[check\\]", "[check]\nexpect = \"vacuous\""}},
                                              "merge-bump-only.x64.toml");
  for (const std::vector<std::string>& options :
       {std::vector<std::string>{"--strategy", "exhaustive"}, {"--strategy", "random", "--schedules", "200"}}) {
    const Sharded s = exploreSharded(variant, 2, options);
    EXPECT_EQ(s.whole["verdict"], "vacuous") << options[1];
    EXPECT_EQ(s.merged["verdict"], "vacuous") << options[1];
    EXPECT_EQ(s.mergeResult.exitCode, 0) << s.mergeResult.out << s.mergeResult.err;
    EXPECT_EQ(s.merged["vacuity"]["unexercised_sites"], json::array({"bump_keyed"})) << s.merged["vacuity"];
    EXPECT_EQ(s.merged["vacuity"]["exercised_sites"], s.whole["vacuity"]["exercised_sites"]) << options[1];
    if (options[1] != "exhaustive") continue;
    json forged = readJson(s.shardReports[1]);
    forged["scenarios"][0]["vacuity"]["exercised_sites"] = "all";
    const std::string path = writeJson("forged-sites.json", forged);
    const CommandResult r = runHph({"merge", s.shardReports[0], path}, 60);
    EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("vacuity: not what hph check writes"), std::string::npos) << r.err;
  }
}

// A shard that owns no schedule answered nothing: vacuous, even for a scenario without a
// patch (it said holds), and the merge, which judges the whole, holds.
TEST(Merge, AShardThatOwnedNoScheduleIsVacuousAndTheMergeHolds) {
  const Sharded s = exploreSharded("threads.x64.toml", 64, {"--strategy", "exhaustive", "--preemption-bound", "0"});
  ASSERT_EQ(s.shards.size(), 64u);
  EXPECT_EQ(s.shards[63]["exploration"]["schedules"], 0);
  EXPECT_EQ(s.shards[63]["verdict"], "vacuous");
  EXPECT_EQ(s.shards[63]["vacuity"]["vacuous"], true);
  EXPECT_EQ(s.shards[0]["verdict"], "holds");
  EXPECT_EQ(s.whole["verdict"], "holds");
  EXPECT_EQ(s.merged["verdict"], "holds");
  EXPECT_EQ(s.merged["exploration"]["schedules"], s.whole["exploration"]["schedules"]);
  const CommandResult one = runHph({"check", corpusScenario("threads.x64.toml"), "--strategy", "exhaustive",
                                    "--preemption-bound", "0", "--shard", "63/64"});
  EXPECT_EQ(one.exitCode, 1) << one.out << one.err;
  EXPECT_NE(one.out.find("vacuous: this shard owned no schedule"), std::string::npos) << one.out;
}

// A shard interrupted before its scenario began explored nothing of it, and says which
// shard it is all the same: the merge is inconclusive (exit 4), not bad input (it once
// found no scenario saying its shard, or a scenario named by its file's stem, and refused).
TEST(Merge, AShardInterruptedBeforeItsScenarioBeganIsInconclusive) {
  const Sharded s =
      exploreSharded("patch-padding-short-jmp.x64.toml", 2, {"--strategy", "random", "--schedules", "20"});
  json stopped = readJson(s.shardReports[1]);
  ASSERT_EQ(stopped.value("shard", ""), "1/2");
  const std::string file = stopped["scenarios"][0]["file"];
  stopped["scenarios"][0] = {{"file", file},
                             {"name", std::filesystem::path(file).stem().string()},
                             {"verdict", "inconclusive"},
                             {"message", "not explored: interrupted by a signal before it began"},
                             {"as_expected", false},
                             {"timing", json::object()}};
  const std::string forged = writeJson("interrupted-shard1.json", stopped);
  const CommandResult merged = runHph({"merge", s.shardReports[0], forged}, 60);
  EXPECT_EQ(merged.exitCode, 4) << merged.out << merged.err;
  EXPECT_NE(merged.out.find("inconclusive"), std::string::npos) << merged.out;
}

// Two shards that searched one branch must have counted it alike (a branch's search is a
// function of the branch alone): a forged disagreement is the emulation not being
// deterministic, an internal error, never a merged count.
TEST(Merge, ShardsThatCountABranchDifferentlyAreAnError) {
  const Sharded s = exploreSharded("patch-padding-short-jmp.x64.toml", 2, {"--strategy", "exhaustive"});
  json forged = readJson(s.shardReports[1]);
  json& branches = forged["scenarios"][0]["exploration"]["branches"];
  const json zero = readJson(s.shardReports[0]);
  json copied = zero["scenarios"][0]["exploration"]["branches"].back();
  copied["schedules"] = copied["schedules"].get<uint64_t>() + 1;
  branches.push_back(copied);
  const std::string path = writeJson("forged-branch.json", forged);
  const CommandResult r = runHph({"merge", s.shardReports[0], path}, 60);
  EXPECT_EQ(r.exitCode, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("differently: the emulation is not deterministic"), std::string::npos) << r.err;
}

// The CI examples parse as the engines read them (YAML), and say what the docs say: a
// GitHub matrix and a merge job after it, a GitLab parallel job and a merge job that
// needs it, a Kubernetes Indexed Job whose --shard-count equals its completions, and the
// release gate as a GitLab parallel job whose shards one job merges.
TEST(CiExamples, AreValidAndShardAsDocumented) {
  const std::string dir = std::string(HPH_CORPUS_DIR) + "/../ci/examples/";
  const char* script = "import sys, yaml\n"
                       "gh = yaml.safe_load(open(sys.argv[1]))\n"
                       "on = gh.get('on', gh.get(True))\n"
                       "shards = gh['jobs']['explore']['strategy']['matrix']['shard']\n"
                       "assert gh['jobs']['merge']['needs'] == 'explore', gh['jobs']['merge']\n"
                       "steps = ' '.join(str(s.get('run', '')) for s in gh['jobs']['explore']['steps'])\n"
                       "assert '--shard ${{ matrix.shard }}/%d' % len(shards) in steps, steps\n"
                       "assert any('hph merge' in str(s.get('run', '')) for s in gh['jobs']['merge']['steps'])\n"
                       "gl = yaml.safe_load(open(sys.argv[2]))\n"
                       "assert gl['explore']['parallel'] >= 2 and gl['merge']['needs'] == ['explore']\n"
                       "assert any('hph merge' in line for line in gl['merge']['script'])\n"
                       "docs = list(yaml.safe_load_all(open(sys.argv[3])))\n"
                       "claim = [d for d in docs if d['kind'] == 'PersistentVolumeClaim'][0]\n"
                       "assert claim['spec']['accessModes'] == ['ReadWriteMany']\n"
                       "spec = [d for d in docs if d['kind'] == 'Job'][0]['spec']\n"
                       "assert spec['completionMode'] == 'Indexed'\n"
                       "args = ' '.join(spec['template']['spec']['containers'][0]['args'])\n"
                       "assert '--shard-count %d' % spec['completions'] in args, args\n"
                       "merge = list(yaml.safe_load_all(open(sys.argv[4])))[0]\n"
                       "assert merge['kind'] == 'Job'\n"
                       "assert 'hph merge' in ' '.join(merge['spec']['template']['spec']['containers'][0]['args'])\n"
                       "gate = yaml.safe_load(open(sys.argv[5]))\n"
                       "assert gate['verdict']['needs'] == ['gate']\n"
                       "assert any('hph gate corpus/release.toml --out gate-$CI_NODE_INDEX' in l for l in "
                       "gate['gate']['script'])\n"
                       "assert any('hph merge gate-*/gate.json --out gate' in l for l in gate['verdict']['script'])\n"
                       "print(len(shards), gl['explore']['parallel'], spec['completions'], gate['gate']['parallel'])\n";
  const CommandResult r = runProgram(
      HPH_SYSTEM_PYTHON, {"-c", script, dir + "github-actions-shards.yml", dir + "gitlab-ci-shards.yml",
                          dir + "k8s-indexed-job.yaml", dir + "k8s-merge-job.yaml", dir + "gitlab-ci-gate-shards.yml"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "4 4 4 3\n");
}

}  // namespace
}  // namespace hph::test
