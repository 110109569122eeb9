// Over 400 lines on purpose: one table of hostile inputs, each row a case that once did
// harm, with the runner they share; split, the table would lose its one place.
//
// Hostile input: nothing a user types or feeds can crash hph, hang it, or change a
// verdict. Data-driven like the malformed-image table: each case is one hostile input
// that once did harm, run through the real binary with a timeout, and what must come
// of it — exit 2 with one stderr line naming the file and the field (and the range), or
// the right verdict. Never a signal, a hang, exit 3, or a verdict that changed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>

#include "harness/explore/ReplayToken.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

// The lost-update race canary (race.x64.toml) with its image path made absolute.
std::string raceText() {
  return "name = \"race-x64\"\narch = \"x64\"\nbase = \"" + corpusImage("race.x64.dll") +
         "\"\n[threads]\ncount = 2\nentry = \"race_worker\"\n[check]\ninvariant = \"race_verify\"\n"
         "expect = \"violation:invariant\"\n[explore]\nstrategy = \"exhaustive\"\npreemption_bound = 1\n"
         "watch = [\"racy_increment\"]\n";
}

std::string writeText(const std::string& name, const std::string& text) {
  return writeTempFile(name, {text.begin(), text.end()});
}

// The race scenario with one regex edit, written as <name>.toml.
std::string race(const std::string& name, const std::string& from, const std::string& to) {
  return writeText(name + ".toml", std::regex_replace(raceText(), std::regex(from), to));
}

std::string tempPath(const std::string& name) { return writeTempFile(name, {}); }

enum class Expect {
  kBadInput,  // exit 2, one stderr line holding every fragment
  kExitCode,  // exactly `exitCode`, stdout holding every fragment
};

struct HostileCase {
  const char* name;
  std::function<std::vector<std::string>()> args;  // writes its files, returns hph's arguments
  Expect expect;
  std::vector<std::string> fragments;
  int exitCode = 2;
  double timeoutSeconds = 120;
};

void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

std::vector<std::string> checkRace(const std::string& path, std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"check", path, "--jobs", "1"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

const std::vector<HostileCase>& hostileCases() {
  static const std::vector<HostileCase> cases = {
      // --- integers wrap silently ---
      {"threads_count_wraps",
       [] { return checkRace(race("count-wraps", "count = 2", "count = 4294967298")); },
       Expect::kBadInput,
       {"count-wraps.toml: [threads].count: 4294967298 is not in 1..256"}},
      {"preemption_bound_wraps",
       [] { return checkRace(race("bound-wraps", "preemption_bound = 1", "preemption_bound = 4294967296")); },
       Expect::kBadInput,
       {"bound-wraps.toml: [explore].preemption_bound: 4294967296 is not in 0..1000"}},
      {"depth_wraps",
       [] {
         return checkRace(race("depth-wraps", "strategy = \"exhaustive\"", "strategy = \"pct\"\ndepth = 4294967297"));
       },
       Expect::kBadInput,
       {"depth-wraps.toml: [explore].depth: 4294967297 is not in 1..1000"}},
      // --- a table written as a plain value ---
      {"check_is_a_string",
       [] {
         return checkRace(writeText(
             "check-is-string.toml",
             "check = \"race_verify\"\n" +
                 std::regex_replace(
                     raceText(),
                     std::regex("\\[check\\]\ninvariant = \"race_verify\"\nexpect = \"violation:invariant\"\n"), "")));
       },
       Expect::kBadInput,
       {"check-is-string.toml: check: expected a table ([check]), not a string"}},
      {"explore_is_an_integer",
       [] {
         return checkRace(
             writeText("explore-is-int.toml",
                       "explore = 3\n" + std::regex_replace(raceText(), std::regex("\\[explore\\][^]*"), "")));
       },
       Expect::kBadInput,
       {"explore-is-int.toml: explore: expected a table ([explore]), not an integer"}},
      {"protocol_is_an_array",
       [] { return checkRace(writeText("protocol-is-array.toml", "protocol = [\"naive-jmp5\"]\n" + raceText())); },
       Expect::kBadInput,
       {"protocol-is-array.toml: protocol: expected a table ([protocol]), not an array"}},
      {"arm64_is_an_integer",
       [] { return checkRace(writeText("arm64-is-int.toml", "arm64 = 3\n" + raceText())); },
       Expect::kBadInput,
       {"arm64-is-int.toml: arm64: expected a table ([arm64]), not an integer"}},
      // --- booleans, nan, negative and oversized numbers ---
      {"depth_is_true",
       [] { return checkRace(race("depth-true", "strategy = \"exhaustive\"", "strategy = \"pct\"\ndepth = true")); },
       Expect::kBadInput,
       {"depth-true.toml: [explore].depth: expected an integer in 1..1000, not a boolean"}},
      {"jobs_is_true",
       [] { return checkRace(race("jobs-true", "preemption_bound = 1", "preemption_bound = 1\njobs = true")); },
       Expect::kBadInput,
       {"jobs-true.toml: [explore].jobs: expected an integer in 0..1024, not a boolean"}},
      {"max_time_nan",
       [] { return checkRace(race("mt-nan", "x", "x"), {"--max-time", "nan"}); },
       Expect::kBadInput,
       {"--max-time: 'nan' is not a number of seconds"}},
      {"max_time_negative",
       [] { return checkRace(race("mt-neg", "x", "x"), {"--max-time", "-1"}); },
       Expect::kBadInput,
       {"--max-time: '-1' is not a number of seconds"}},
      {"seed_negative",
       [] { return checkRace(race("seed-neg", "x", "x"), {"--seed", "-1"}); },
       Expect::kBadInput,
       {"--seed: '-1' is not an integer in 0..18446744073709551615"}},
      {"seed_above_2_64",
       [] { return checkRace(race("seed-big", "x", "x"), {"--seed", "18446744073709551616"}); },
       Expect::kBadInput,
       {"--seed: '18446744073709551616' is not an integer in 0..18446744073709551615"}},
      {"schedules_negative",
       [] { return checkRace(race("sched-neg", "x", "x"), {"--schedules", "-1"}); },
       Expect::kBadInput,
       {"--schedules: '-1' is not an integer in 1..18446744073709551615"}},
      {"preemption_bound_flag_wraps",
       [] { return checkRace(race("pb-flag", "x", "x"), {"--preemption-bound", "4294967296"}); },
       Expect::kBadInput,
       {"--preemption-bound: '4294967296' is not an integer in 0..1000"}},
      {"depth_flag_wraps",
       [] { return checkRace(race("depth-flag", "x", "x"), {"--depth", "4294967297"}); },
       Expect::kBadInput,
       {"--depth: '4294967297' is not an integer in 1..1000"}},
      {"jobs_flag_wraps",
       [] { return checkRace(race("jobs-flag", "x", "x"), {"--jobs", "4294967297"}); },
       Expect::kBadInput,
       {"--jobs: '4294967297' is not an integer in 0..1024"}},
      {"shard_negative",
       [] { return checkRace(race("shard-neg", "x", "x"), {"--shard", "-1/3"}); },
       Expect::kBadInput,
       {"--shard '-1/3': expected I/N with 0 <= I < N <= 100000"}},
      {"budget_negative",
       [] { return std::vector<std::string>{"call", corpusImage("basics.x64.dll"), "sum8", "--budget", "-1"}; },
       Expect::kBadInput,
       {"--budget: '-1' is not an integer in 1..18446744073709551615"}},
      {"budget_above_2_64",
       [] {
         return std::vector<std::string>{"call", corpusImage("basics.x64.dll"), "sum8", "--budget",
                                         "18446744073709551616"};
       },
       Expect::kBadInput,
       {"--budget: '18446744073709551616' is not an integer"}},
      {"base_zero",
       [] { return std::vector<std::string>{"call", corpusImage("basics.x64.dll"), "sum8", "--base", "0"}; },
       Expect::kBadInput,
       {"--base 0x0: ", "basics.x64.dll must load inside 0x10000..0x7ffd00000000"}},
      {"base_non_canonical",
       [] {
         return std::vector<std::string>{"call", corpusImage("basics.x64.dll"), "sum8", "--base", "0x800000000000"};
       },
       Expect::kBadInput,
       {"--base 0x800000000000: ", "must load inside"}},
      {"base_negative",
       [] { return std::vector<std::string>{"call", corpusImage("basics.x64.dll"), "sum8", "--base", "-65536"}; },
       Expect::kBadInput,
       {"--base '-65536': not an unsigned"}},
      // --- a replay token that does not fit its schedule ---
      {"token_past_the_end",
       [] {
         auto inputs = preparedScenario(corpusScenario("race.x64.toml"));
         const ReplayToken token = ReplayToken::of(*inputs, {{10'000'000, ActorId{1}}});
         return std::vector<std::string>{"replay", token.encode()};
       },
       Expect::kBadInput,
       {"replay token: its decisions do not fit this scenario's schedule"}},
      // --- two reports to one path ---
      {"json_and_junit_same_path",
       [] {
         const std::string out = tempPath("same-report.out");
         return checkRace(race("same-a", "x", "x"), {"--json", out, "--junit", out});
       },
       Expect::kBadInput,
       {"--json ", "--junit ", "same-report.out: the same file"}},
      {"json_and_sarif_same_path",
       [] {
         const std::string out = tempPath("same-report2.out");
         return checkRace(race("same-b", "x", "x"), {"--json", out, "--sarif", out});
       },
       Expect::kBadInput,
       {"--json ", "--sarif ", "the same file"}},
      {"json_over_the_scenario",
       [] {
         const std::string path = race("json-over-input", "x", "x");
         return checkRace(path, {"--json", path});
       },
       Expect::kBadInput,
       {"--json ", "a report must not overwrite an input"}},
      // --- code near the top of the address space ---
      {"trampoline_arm64_top",
       [] {
         return std::vector<std::string>{
             "trampoline", "--arch", "arm64", "--hex", "1f2003d5c0035fd6", "--address", "0xfffffffffffff000"};
       },
       Expect::kExitCode,
       {"refused: cannot place the function at 0xfffffffffffff000"},
       0,
       60},
      {"trampoline_x64_top",
       [] {
         return std::vector<std::string>{"trampoline",        "--arch", "x64", "--hex", "4889c8c3", "--address",
                                         "0xfffffffffffff000"};
       },
       Expect::kExitCode,
       {"refused: cannot place"},
       0,
       60},
      {"trampoline_address_negative",
       [] { return std::vector<std::string>{"trampoline", "--arch", "x64", "--hex", "4889c8c3", "--address", "-1"}; },
       Expect::kBadInput,
       {"--address '-1': not an unsigned"}},
      // --- a segment-register load is refused, not "relocated" then a mismatch ---
      {"trampoline_mov_gs",
       [] { return std::vector<std::string>{"trampoline", "--arch", "x64", "--hex", "8e2a9090909090c3"}; },
       Expect::kExitCode,
       {"refused: mov at +0x0 loads segment register gs"},
       0},
      // --- replay inputs ---
      {"replay_trace_number",
       [] { return std::vector<std::string>{"replay", writeText("replay5.json", "{\"otherData\":{\"replay\":5}}")}; },
       Expect::kBadInput,
       {"replay5.json: otherData.replay: expected a string"}},
      {"replay_trace_null",
       [] {
         return std::vector<std::string>{"replay", writeText("replaynull.json", "{\"otherData\":{\"replay\":null}}")};
       },
       Expect::kBadInput,
       {"replaynull.json: otherData.replay: expected a string"}},
      {"replay_dev_zero",
       [] { return std::vector<std::string>{"replay", "/dev/zero"}; },
       Expect::kBadInput,
       {"/dev/zero: is a character device, not a regular file"},
       2,
       30},
      {"replay_fifo",
       [] {
         const std::string path = tempPath("replay.fifo");
         std::filesystem::remove(path);
         mkfifo(path.c_str(), 0600);
         return std::vector<std::string>{"replay", path};
       },
       Expect::kBadInput,
       {"replay.fifo: is a FIFO, not a regular file"},
       2,
       30},
      {"check_fifo",
       [] {
         const std::string path = tempPath("scenario.fifo");
         std::filesystem::remove(path);
         mkfifo(path.c_str(), 0600);
         return checkRace(path);
       },
       Expect::kBadInput,
       {"scenario.fifo: is a FIFO, not a regular file"},
       2,
       30},
      {"replay_token_with_newline",
       [] { return std::vector<std::string>{"replay", "hph2.AAAA\nsecond line"}; },
       Expect::kBadInput,
       {"replay token: malformed", "\\x0a"}},
      // --- threads x stacks ---
      {"threads_times_stacks",
       [] { return checkRace(race("stacks", "count = 2", "count = 256\nstack_size = 67108864")); },
       Expect::kBadInput,
       {"stacks.toml: [threads].count x [threads].stack_size: 256 x 67108864 bytes", "limit of 256 MiB"}},
      // --- stores and placements validated at load ---
      {"host_write_200k",
       [] {
         return checkRace(race("hw-200k", "watch = \\[\"racy_increment\"\\]\n",
                               "watch = [\"racy_increment\"]\n[[host_write]]\ntarget = \"racy_increment\"\nbytes = \"" +
                                   std::string(409600, 'c') + "\"\n"));
       },
       Expect::kBadInput,
       {"hw-200k.toml: [[host_write]][0].bytes: 204800 bytes is not in 1..4096"}},
      {"host_write_past_section",
       [] {
         return checkRace(race("hw-past", "watch = \\[\"racy_increment\"\\]\n",
                               "watch = [\"racy_increment\"]\n[[host_write]]\ntarget = \"racy_increment\"\nbytes = \"" +
                                   std::string(8000, 'c') + "\"\n"));
       },
       Expect::kBadInput,
       {"hw-past.toml: [[host_write]][0].bytes: 4000 bytes at racy_increment", "run past the end of section"}},
      {"patch_address_over_base",
       [] {
         const auto bytes = readFile(corpusScenario("patch-padding-short-jmp.x64.toml"));
         std::string text(bytes.begin(), bytes.end());
         text = std::regex_replace(text, std::regex("\\.\\./images/"), std::string(HPH_CORPUS_DIR) + "/images/");
         text = "patch_address = \"0x180000000\"\n" + text;  // where counter.x64.dll itself loads
         return checkRace(writeText("pa-over-base.toml", text));
       },
       Expect::kBadInput,
       {"pa-over-base.toml: patch_address: patch[0]", "overlaps the base image counter.x64.dll"}},
      // --- messages and paths ---
      {"refused_expected_holds",
       [] {
         const auto bytes = readFile(corpusScenario("patch-stop-the-world-retry.x64.toml"));
         std::string text(bytes.begin(), bytes.end());
         text = std::regex_replace(text, std::regex("\\.\\./images/"), std::string(HPH_CORPUS_DIR) + "/images/");
         text = std::regex_replace(text, std::regex("expect = \"refused\""), "expect = \"holds\"");
         return checkRace(writeText("refused-holds.toml", text));
       },
       Expect::kBadInput,
       {"refused-holds.toml: refused: stop-the-world"}},
      {"nul_in_base",
       [] { return checkRace(race("nul-base", "base = \"", "base = \"/etc/passwd\\u0000")); },
       Expect::kBadInput,
       {"nul-base.toml: base: '/etc/passwd\\x00", "holds a control character"}},
      {"newline_in_name",
       [] { return checkRace(race("nl-name", "name = \"race-x64\"", "name = \"a\\nb\"")); },
       Expect::kBadInput,
       {"nl-name.toml: name: 'a\\x0ab' holds a control character"}},
      {"megabyte_key",
       [] { return checkRace(writeText("mb-key.toml", std::string(1000000, 'k') + " = 1\n" + raceText())); },
       Expect::kBadInput,
       {"mb-key.toml: kkkk", "… (1000000 bytes): unknown key"}},
      {"directory_as_image",
       [] { return std::vector<std::string>{"inspect", "/tmp"}; },
       Expect::kBadInput,
       {"/tmp: is a directory, not a regular file"}},
      {"directory_as_base",
       [] { return checkRace(race("dir-base", "base = \"[^\"]*\"", "base = \"/tmp\"")); },
       Expect::kBadInput,
       {"/tmp: is a directory, not a regular file"}},
      {"import_without_shim_names_the_path",
       [] { return std::vector<std::string>{"call", corpusImage("imports.x64.dll"), "needs_missing", "1"}; },
       Expect::kBadInput,
       {corpusImage("imports.x64.dll") + ": import kernel32.dll!GetProcessHeaps: no shim"}},
      {"name_escapes_trace_dir",
       [] {
         return checkRace(race("escape", "name = \"race-x64\"", "name = \"../../escaped-trace\""),
                          {"--trace-dir", tempPath("dummy-trace-dir") + ".d"});
       },
       Expect::kBadInput,
       {"escape.toml: name: '../../escaped-trace' is not a plain name"}},
  };
  return cases;
}

class Hostile : public ::testing::TestWithParam<HostileCase> {};

TEST_P(Hostile, RefusedOrRightVerdictNeverSignalHangOrExit3) {
  const HostileCase& c = GetParam();
  const CommandResult r = runHph(c.args(), c.timeoutSeconds);
  ASSERT_FALSE(r.timedOut) << c.name << ": still running after " << c.timeoutSeconds << " s";
  ASSERT_LT(r.exitCode, 128) << c.name << ": killed by signal " << r.exitCode - 128 << "\n" << r.err;
  EXPECT_NE(r.exitCode, 3) << r.err;
  if (c.expect == Expect::kBadInput) {
    EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_EQ(r.err.find('\0'), std::string::npos) << r.err;
    EXPECT_LT(r.err.size(), 1000u) << "no input echoed in full";
    for (const std::string& f : c.fragments)
      EXPECT_NE(r.err.find(f), std::string::npos) << "'" << f << "' in: " << r.err;
  } else {
    EXPECT_EQ(r.exitCode, c.exitCode) << r.out << r.err;
    for (const std::string& f : c.fragments)
      EXPECT_NE(r.out.find(f), std::string::npos) << "'" << f << "' in: " << r.out;
  }
}

INSTANTIATE_TEST_SUITE_P(Issue10, Hostile, ::testing::ValuesIn(hostileCases()),
                         [](const auto& info) { return std::string(info.param.name); });

// --- Cases that need more than one look at the result ---

// One run can last very long (two threads spinning with every instruction a scheduling
// point, a budget of 10^12 instructions). --max-time must end it inside the run, and the
// verdict is inconclusive, never a pass.
TEST(HostileRuns, MaxTimeEndsALongRun) {
  const std::string path = tempPath("spin.toml");
  const std::string text = "name = \"spin\"\narch = \"x64\"\nbase = \"" + corpusImage("faults.x64.dll") +
                           "\"\n[threads]\ncount = 2\nentry = \"spin_forever\"\nbudget = 1000000000000\n"
                           "[explore]\nstrategy = \"pct\"\npoints = \"all\"\n";
  writeTempFile("spin.toml", {text.begin(), text.end()});
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = runHph({"check", path, "--schedules", "1", "--max-time", "1", "--jobs", "1"}, 60);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(r.timedOut) << "--max-time 1 ignored";
  EXPECT_LT(seconds, 30) << r.out;
  EXPECT_EQ(r.exitCode, kExitInconclusive) << r.out << r.err;
  EXPECT_NE(r.out.find("stopped by --max-time"), std::string::npos) << r.out;
}

// --jobs beyond the CPUs is clamped and said so; the verdict is unchanged.
TEST(HostileRuns, JobsAreClampedToTheCpus) {
  const CommandResult r = runHph({"check", corpusScenario("race.x64.toml"), "--jobs", "1024"}, 120);
  ASSERT_FALSE(r.timedOut);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS race-x64: violation:invariant (as expected)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("--jobs 1024 clamped to"), std::string::npos) << r.err;
}

// Under an address-space limit: fewer jobs, or a resource error (exit 2) — never Unicorn's
// "Could not allocate dynamic translator buffer" and exit 1 (read as "property violated").
TEST(HostileRuns, AddressSpaceLimitIsAResourceErrorNotAViolation) {
  HPH_SKIP_UNDER_ASAN("its shadow memory needs more address space than any limit this test sets");
  const std::string hph = HPH_BINARY;
  const std::string scenario = corpusScenario("race.x64.toml");
  const CommandResult tight =
      runProgram("/bin/sh", {"-c", "ulimit -v 800000 && exec \"$0\" check \"$1\" --jobs 2", hph, scenario}, 60);
  ASSERT_FALSE(tight.timedOut);
  EXPECT_EQ(tight.exitCode, 2) << tight.out << tight.err;
  EXPECT_EQ(std::count(tight.err.begin(), tight.err.end(), '\n'), 1) << tight.err;
  EXPECT_NE(tight.err.find("resource: the address-space limit (ulimit -v)"), std::string::npos) << tight.err;
  EXPECT_EQ(tight.err.find("translator buffer"), std::string::npos) << tight.err;

  const CommandResult one =
      runProgram("/bin/sh", {"-c", "ulimit -v 1600000 && exec \"$0\" check \"$1\" --jobs 2", hph, scenario}, 120);
  ASSERT_FALSE(one.timedOut);
  EXPECT_EQ(one.exitCode, 0) << one.out << one.err;
  EXPECT_NE(one.out.find("PASS race-x64"), std::string::npos) << one.out;
  EXPECT_EQ(one.err.find("translator buffer"), std::string::npos) << one.err;
}

// A file name that is not UTF-8: the JSON report is still written (bytes replaced).
TEST(HostileRuns, NonUtf8FileNameStillWritesTheReport) {
  const std::string path = writeText("race-\xff\xfe.toml", raceText());
  const std::string json = tempPath("non-utf8.json");
  std::filesystem::remove(json);
  const CommandResult r = runHph({"check", path, "--jobs", "1", "--json", json}, 120);
  ASSERT_FALSE(r.timedOut);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  std::ifstream in(json);
  const auto report = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "no report written";
  EXPECT_EQ(report["scenarios"][0]["verdict"], "violation:invariant");
}

// `call` out of budget: the PC is the instruction the budget did not cover, not the start
// of its block, and the count is the budget.
TEST(HostileRuns, BudgetFaultNamesTheExactInstruction) {
  const std::string image = corpusImage("basics.x64.dll");
  const CommandResult full = runHph({"call", image, "sum8", "1", "2", "3", "4", "5", "6", "7", "8", "--json"}, 60);
  ASSERT_EQ(full.exitCode, 0) << full.err;
  const uint64_t total = nlohmann::json::parse(full.out)["instructions"].get<uint64_t>();
  ASSERT_GT(total, 3u);
  uint64_t previousPc = 0;
  for (uint64_t budget = 1; budget < total; ++budget) {
    const CommandResult r = runHph(
        {"call", image, "sum8", "1", "2", "3", "4", "5", "6", "7", "8", "--json", "--budget", std::to_string(budget)},
        60);
    ASSERT_EQ(r.exitCode, 1) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["instructions"].get<uint64_t>(), budget) << r.out;
    EXPECT_EQ(j["fault"]["kind"], "budget-exhausted");
    const uint64_t pc = j["fault"]["pc"].get<uint64_t>();
    EXPECT_NE(pc, previousPc) << "budget " << budget << " stopped where budget " << budget - 1 << " did";
    previousPc = pc;
  }
}

}  // namespace
}  // namespace hph::test
