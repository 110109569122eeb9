// hph check's CI reports, read by real consumers: JUnit by python3-junitparser, SARIF
// 2.1.0 by Microsoft's SARIF multitool (`validate`), and the versioned JSON report.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/TestSupport.h"

namespace hph::test {
namespace {

using nlohmann::json;

// One check over a canary caught as expected, a protocol that holds, a refusal, an
// unexpected violation and a missing file.
struct Reports {
  CommandResult run;
  std::string junit, sarif, json;
};

const Reports& reports() {
  static const Reports r = [] {
    Reports out;
    const std::string dir = std::filesystem::path(writeTempFile("reports.keep", {})).parent_path().string();
    out.junit = dir + "/check.xml";
    out.sarif = dir + "/check.sarif";
    out.json = dir + "/check.json";
    const std::string unexpected = scenarioVariant("patch-naive-jmp5.x64.toml",
                                                   {{"expect = \"[^\"]*\"", "ignore = [\"X2\"]"},
                                                    {"name = \"patch-naive-jmp5-x64\"", "name = \"naive-unexpected\""},
                                                    {"count = 3", "count = 2"}},
                                                   "naive-unexpected.toml");
    out.run = runHph(
        {"check", corpusScenario("patch-naive-jmp5.x64.toml"), corpusScenario("patch-padding-short-jmp.x64.toml"),
         corpusScenario("patch-int3-3step-refused.x64.toml"), unexpected, "/nonexistent/scenario.toml",
         "--preemption-bound", "1", "--jobs", "1", "--junit", out.junit, "--sarif", out.sarif, "--json", out.json});
    return out;
  }();
  return r;
}

TEST(Reports, ExitCodeAndVerdictTable) {
  const Reports& r = reports();
  EXPECT_EQ(r.run.exitCode, 2) << "a bad input wins over a failed expectation";
  for (const char* row : {"patch-naive-jmp5-x64", "patch-padding-short-jmp-x64", "naive-unexpected"})
    EXPECT_NE(r.run.out.find(row), std::string::npos) << r.run.out;
  EXPECT_NE(r.run.out.find("violation:C2"), std::string::npos) << r.run.out;
}

TEST(Reports, JunitHasATestCasePerScenarioAndPropertyAndJunitparserReadsIt) {
  const Reports& r = reports();
  // junitparser: one line per suite "name tests failures errors failing-cases skipped-cases".
  const char* script =
      "import sys, junitparser\n"
      "for s in junitparser.JUnitXml.fromfile(sys.argv[1]):\n"
      "    bad = [c.name for c in s if any(isinstance(x, (junitparser.Failure, junitparser.Error)) "
      "for x in c.result)]\n"
      "    skipped = [c.name for c in s if any(isinstance(x, junitparser.Skipped) for x in c.result)]\n"
      "    print(s.name, s.tests, s.failures, s.errors, ','.join(bad) or '-', ','.join(skipped) or '-')\n";
  const CommandResult parsed = runProgram(HPH_SYSTEM_PYTHON, {"-c", script, r.junit});
  ASSERT_EQ(parsed.exitCode, 0) << parsed.err << " (ci/install-deps.sh installs python3-junitparser)";
  // x64: C1-C8, X1-X3, guest, vacuity.
  EXPECT_NE(parsed.out.find("patch-naive-jmp5-x64 13 0 0 - -"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("patch-padding-short-jmp-x64 13 0 0 - -"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("patch-int3-3step-refused-x64 1 0 0 - -"), std::string::npos) << parsed.out;
  // Its ignore = ["X2"]: X2 was not checked, so its case is skipped, not passed.
  EXPECT_NE(parsed.out.find("naive-unexpected 13 1 0 C2 X2"), std::string::npos) << parsed.out;
  EXPECT_NE(parsed.out.find("scenario 1 0 1 input -"), std::string::npos) << parsed.out;
}

TEST(Reports, SarifValidatesWithTheMultitoolAndLocatesEachViolation) {
  const Reports& r = reports();
  ASSERT_TRUE(std::filesystem::exists(HPH_SARIF_MULTITOOL)) << "run ci/install-deps.sh (installs the SARIF multitool)";
  const std::string validation = r.sarif + ".validation.sarif";
  std::filesystem::remove(validation);
  const CommandResult v = runProgram(HPH_SARIF_MULTITOOL, {"validate", r.sarif, "--output", validation});
  ASSERT_EQ(v.exitCode, 0) << v.out << v.err;
  const json findings = json::parse(readFile(validation));
  for (const json& f : findings["runs"][0]["results"]) {
    EXPECT_NE(f.value("level", "warning"), "error") << f.dump();
    // Only "no informationUri" may remain: hph has no public home page to point at.
    EXPECT_EQ(f["ruleId"], "SARIF2005") << f.dump();
  }
  const json log = json::parse(readFile(r.sarif));
  EXPECT_EQ(log["version"], "2.1.0");
  const json& results = log["runs"][0]["results"];
  ASSERT_EQ(results.size(), 2u) << results.dump(2);
  // The canary caught as expected is a note; the unexpected C2 an error, at bump+3.
  EXPECT_EQ(results[0]["ruleId"], "X2");
  EXPECT_EQ(results[0]["level"], "note");
  EXPECT_EQ(results[1]["ruleId"], "C2");
  EXPECT_EQ(results[1]["level"], "error");
  const json& where = results[1]["locations"][0];
  EXPECT_NE(where["physicalLocation"]["artifactLocation"]["uri"].get<std::string>().find("counter.x64.dll"),
            std::string::npos);
  EXPECT_TRUE(where["physicalLocation"]["region"]["byteOffset"].is_number());
  EXPECT_EQ(where["logicalLocations"][0]["fullyQualifiedName"], "counter.x64.dll+0x1023");
}

TEST(Reports, JsonCarriesProvenanceAndVacuity) {
  const Reports& r = reports();
  const json report = json::parse(readFile(r.json));
  EXPECT_EQ(report["schema"], "hph-check/3");
  const json& padding = report["scenarios"][1];
  for (const char* key : {"scenario_sha256", "base_sha256", "hph_version", "unicorn_version", "lief_version"})
    EXPECT_FALSE(padding["provenance"][key].get<std::string>().empty()) << key;
  EXPECT_EQ(padding["provenance"]["patch_sha256"].size(), 1u);
  EXPECT_EQ(padding["provenance"]["base_sha256"].get<std::string>().size(), 64u);
  EXPECT_GT(padding["vacuity"]["patched_calls"].get<uint64_t>(), 0u);
  EXPECT_FALSE(padding["vacuity"]["vacuous"].get<bool>());
  EXPECT_EQ(report["scenarios"][3]["counterexample"]["property"], "C2");
  EXPECT_EQ(report["scenarios"][3]["counterexample"]["actor"].get<std::string>().rfind("thread", 0), 0u);
}

}  // namespace
}  // namespace hph::test
