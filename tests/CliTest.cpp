// The command-line contract of `inspect` and `call`: outputs, JSON fields, exit codes.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "tests/TestSupport.h"

extern "C" uint64_t mix64(uint64_t, uint64_t, uint64_t);

namespace hph::test {
namespace {

using nlohmann::json;

TEST(Cli, HelpEverywhereExitsZero) {
  for (auto args : std::vector<std::vector<std::string>>{{"--help"}, {"inspect", "--help"}, {"call", "--help"}}) {
    const CommandResult r = runHph(args);
    EXPECT_EQ(r.exitCode, 0) << args[0];
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  EXPECT_NE(runHph({"--help"}).out.find("inspect"), std::string::npos);
}

TEST(Cli, UsageErrorsAreExitCode2) {
  EXPECT_EQ(runHph({}).exitCode, 2);
  EXPECT_EQ(runHph({"frobnicate"}).exitCode, 2);
  EXPECT_EQ(runHph({"call", corpusImage("basics.x64.dll")}).exitCode, 2);  // FUNCTION missing
}

TEST(Cli, CallJsonGivesTheFull64BitResultAsUnsignedDecimal) {
  for (const char* arch : {"x64", "arm64"}) {
    // mix64(1, 2, 3) has its top bit clear; (1, 3, 9) sets it: both must be exact.
    for (auto args : {std::vector<uint64_t>{1, 2, 3}, std::vector<uint64_t>{1, 3, 9}}) {
      const CommandResult r =
          runHph({"call", corpusImage(std::string("basics.") + arch + ".dll"), "mix64", std::to_string(args[0]),
                  std::to_string(args[1]), "0x" + std::to_string(args[2]), "--json"});
      ASSERT_EQ(r.exitCode, 0) << r.err;
      const json out = json::parse(r.out);
      ASSERT_TRUE(out["result"].is_number_unsigned()) << r.out;
      EXPECT_EQ(out["result"].get<uint64_t>(), mix64(args[0], args[1], args[2]));
      EXPECT_EQ(out["status"], "ok");
      EXPECT_EQ(out["arch"], arch);
      EXPECT_GT(out["instructions"].get<uint64_t>(), 0u);
    }
  }
  EXPECT_GE(mix64(1, 3, 9), 1ull << 63) << "test data no longer covers the top bit";
}

TEST(Cli, CallAcceptsHexNegativeAndRvaNames) {
  const CommandResult r = runHph({"call", corpusImage("basics.arm64.dll"), "signed_divmod", "-7", "0x2", "--json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["result"].get<uint64_t>(), static_cast<uint64_t>(-3 * 1000 + -1));
  const json inspect = json::parse(runHph({"inspect", corpusImage("basics.arm64.dll"), "--json"}).out);
  uint32_t rva = 0;
  for (const auto& f : inspect["functions"])
    if (f["name"] == "fib_rec") rva = f["begin_rva"];
  char name[32];
  std::snprintf(name, sizeof name, "rva:0x%x", rva);
  const CommandResult byRva = runHph({"call", corpusImage("basics.arm64.dll"), name, "10"});
  EXPECT_EQ(byRva.exitCode, 0) << byRva.err;
  EXPECT_NE(byRva.out.find("fib_rec(0xa) = 55 "), std::string::npos) << byRva.out;
}

TEST(Cli, BadCallInputIsExitCode2WithOneLine) {
  const std::string image = corpusImage("basics.x64.dll");
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const Case cases[] = {
      {{"call", image, "no_such_function"}, image + ": function 'no_such_function'"},
      {{"call", image, "mix64", "12x"}, "argument '12x'"},
      {{"call", image, "mix64", "99999999999999999999"}, "argument '99999999999999999999'"},
      {{"call", image, "sum8", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, "9 arguments"},
      {{"call", image, "mix64", "--base", "0x180001234"}, "not 64 KiB aligned"},
      {{"call", image, "mix64", "--base", "0x1234"}, "must load inside 0x10000..0x7ffd00000000"},
      {{"call", corpusImage("imports.x64.dll"), "needs_missing", "1"}, "kernel32.dll!GetProcessHeaps"},
  };
  for (const Case& c : cases) {
    const CommandResult r = runHph(c.args);
    EXPECT_EQ(r.exitCode, 2) << c.expected << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
  }
}

TEST(Cli, GuestFaultsAreExitCode1AndDescribed) {
  const CommandResult spin = runHph({"call", corpusImage("faults.arm64.dll"), "spin_forever", "1", "--budget", "5000"});
  EXPECT_EQ(spin.exitCode, 1);
  EXPECT_NE(spin.out.find("budget-exhausted"), std::string::npos) << spin.out;
  const CommandResult read = runHph({"call", corpusImage("faults.x64.dll"), "read_unmapped", "0", "--json"});
  EXPECT_EQ(read.exitCode, 1);
  const json out = json::parse(read.out);
  EXPECT_EQ(out["status"], "fault");
  EXPECT_EQ(out["fault"]["kind"], "unmapped-read");
  EXPECT_EQ(out["fault"]["address"], 0x10);
  EXPECT_FALSE(out.contains("result"));
}

TEST(Cli, InspectReportsHotpatchabilityAsCompiled) {
  const json hot = json::parse(runHph({"inspect", corpusImage("basics.x64.dll"), "--json"}).out);
  const json plain = json::parse(runHph({"inspect", corpusImage("basics.plain.x64.dll"), "--json"}).out);
  EXPECT_EQ(hot["machine"], "x64");
  EXPECT_EQ(hot["load_config"]["size"], 0x140);
  EXPECT_EQ(hot["load_config"]["hotpatch_table_offset"], 0);
  // -fms-hotpatch + /functionpadmin: every function; without them: some are not.
  for (const auto& f : hot["functions"]) EXPECT_TRUE(f["hotpatch"]["hotpatchable"]) << f.dump();
  size_t refused = 0;
  for (const auto& f : plain["functions"]) {
    if (f["hotpatch"]["hotpatchable"]) continue;
    ++refused;
    EXPECT_FALSE(f["hotpatch"]["reason"].get<std::string>().empty());
  }
  EXPECT_GT(refused, 0u);

  const json arm = json::parse(runHph({"inspect", corpusImage("basics.arm64.dll"), "--json"}).out);
  for (const auto& f : arm["functions"]) {
    const bool entryNop = f["hotpatch"]["first_instruction"] == "nop";
    EXPECT_EQ(f["hotpatch"]["hotpatchable"].get<bool>(), entryNop) << f.dump();
    EXPECT_TRUE(f["hotpatch"]["aligned"]);
  }
}

TEST(Cli, InspectTextNamesMachineSectionsAndFunctions) {
  const CommandResult r = runHph({"inspect", corpusImage("counter.arm64.dll")});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  for (const char* needle : {"arm64 PE32+ DLL", ".text", "worker", "verify", "bump", "load config: size 0x140"})
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle;
}

// A hybrid image: each Arm64EC function with both of its patch sites, judged by each
// site's own architecture (the body by the Arm64 rule, the fast-forward sequence by x64's).
TEST(Cli, InspectShowsEachArm64ecFunctionsEntryPathsAndSites) {
  const CommandResult r = runHph({"inspect", corpusImage("hybrid.arm64ec.dll"), "--json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["machine"], "x64");
  const json& chpe = j["chpe"];
  ASSERT_TRUE(chpe.is_object());
  EXPECT_EQ(chpe["code_map"].size(), 2u);
  EXPECT_EQ(chpe["redirections"].size(), chpe["functions"].size());
  std::map<std::string, json> byName;
  for (const json& f : chpe["functions"]) byName[f["name"]] = f;
  ASSERT_TRUE(byName.count("add") && byName.count("mul"));
  for (const json& f : chpe["functions"]) {
    EXPECT_EQ(f["isa"], "arm64ec");
    EXPECT_TRUE(f["hotpatch"]["native"].contains("concurrently_modifiable")) << f.dump();  // the Arm64 rule
    EXPECT_TRUE(f["hotpatch"]["x64_entry"].contains("padding_before")) << f.dump();
    EXPECT_FALSE(f["hotpatch"]["x64_entry"].contains("concurrently_modifiable")) << f.dump();
    // The fast-forward sequence opens with `mov rax, rsp` (3 bytes): no x64 rule patches it.
    EXPECT_EQ(f["hotpatch"]["x64_entry"]["first_instruction_length"], 3u) << f.dump();
  }
  EXPECT_EQ(byName["add"]["hotpatch"]["native"]["first_instruction"], "add x0, x1, x0");
  EXPECT_TRUE(byName["mul"]["hybrid_patchable"]);
  EXPECT_FALSE(byName["add"]["hybrid_patchable"]);

  const CommandResult text = runHph({"inspect", corpusImage("hybrid.arm64ec.dll")});
  // (inspect reads it; running it is another matter: the next test)
  ASSERT_EQ(text.exitCode, 0) << text.err;
  for (const char* needle : {"CHPE metadata: version 2", "arm64ec", "amd64", "Arm64EC functions (14)",
                             "hybrid-patchable", "x64-entry:", "native:"})
    EXPECT_NE(text.out.find(needle), std::string::npos) << needle;
}

// One engine would run the other kind's bytes as its own (Arm64EC code on the x64 engine:
// `hph call ... add` reported a guest fault, a result that means nothing): every command
// that emulates refuses a hybrid image as bad input naming the file and the field.
// A hybrid image runs in `hph call` as a hybrid process (two engines); where threads would
// run on one engine (check, gate, onhost) it is refused, not run as one kind of code.
TEST(Cli, HybridImagesRunInCallAndAreRefusedWhereThreadsWouldRun) {
  const std::string image = corpusImage("hybrid.arm64ec.dll");
  const CommandResult call = runHph({"call", image, "x64_calls_add", "2", "3", "--json"});
  ASSERT_EQ(call.exitCode, 0) << call.out << call.err;
  const json j = json::parse(call.out);
  EXPECT_EQ(j["arch"], "arm64ec");
  EXPECT_EQ(j["result"], 105u);
  EXPECT_EQ(j["engine_crossings"], 2u);
  const CommandResult text = runHph({"call", image, "ec_calls_x64", "7", "2"});
  ASSERT_EQ(text.exitCode, 0) << text.err;
  EXPECT_NE(text.out.find("= 10 (0xa)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("4 crossings between the x64 and Arm64 engines"), std::string::npos) << text.out;
  const std::string toml =
      "name = \"hybrid\"\narch = \"x64\"\nbase = \"" + image + "\"\n[threads]\ncount = 2\nentry = \"hybrid_worker\"\n";
  const std::string scenario = writeTempFile("hybrid-check.toml", {toml.begin(), toml.end()});
  const CommandResult check = runHph({"check", scenario});
  EXPECT_EQ(check.exitCode, 2) << check.out << check.err;
  EXPECT_EQ(std::count(check.err.begin(), check.err.end(), '\n'), 1) << check.err;
  EXPECT_NE(check.err.find("base: " + image + ": CHPE metadata.CodeMap: a hybrid image"), std::string::npos)
      << check.err;
}

// The trampoline `hph trampoline --protocol stop-the-world` checks is the one that
// protocol's plan writes: x64 stop-the-world keeps a call that is not the last displaced
// instruction a call (it returned "refused" for the plan's own trampoline before).
TEST(Cli, TrampolineChecksTheTrampolineTheProtocolWrites) {
  const CommandResult plain = runHph({"trampoline", "--arch", "x64", "--hex", "ffd0909090c3", "--json"});
  ASSERT_EQ(plain.exitCode, 0) << plain.err;
  EXPECT_EQ(json::parse(plain.out)["verdict"], "refused");
  const CommandResult stw =
      runHph({"trampoline", "--arch", "x64", "--hex", "ffd0909090c3", "--protocol", "stop-the-world", "--json"});
  ASSERT_EQ(stw.exitCode, 0) << stw.err;
  const json j = json::parse(stw.out);
  EXPECT_EQ(j["verdict"], "relocated") << j.dump();
  EXPECT_GT(j["states_checked"].get<uint32_t>(), 0u);
}

}  // namespace
}  // namespace hph::test
