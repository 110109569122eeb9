// `hph gate`: the bundled release ships with every report written; one unsafe scenario
// added stops it (exit 1), and the HTML (in Chromium), the SARIF and the JUnit say which;
// a manifest that is wrong is refused (exit 2) with one line naming the file and field.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "emu/pe/PeImage.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string readText(const fs::path& path) {
  const std::vector<uint8_t> bytes = readFile(path.string());
  return std::string(bytes.begin(), bytes.end());
}

json readJson(const fs::path& path) { return json::parse(readText(path), nullptr, false); }

// A fresh directory for one gate run's reports.
fs::path outDir(const std::string& name) {
  const fs::path dir = fs::path(writeTempFile(name + ".keep", {})).parent_path() / name;
  fs::remove_all(dir);
  return dir;
}

std::string manifestFile(const std::string& name, const std::string& text) {
  return writeTempFile(name, {text.begin(), text.end()});
}

std::string image(const std::string& name) { return corpusImage(name); }

TEST(Gate, TheBundledReleaseShipsWithEveryReportWritten) {
  const fs::path out = outDir("gate-ship");
  const CommandResult r = runHph({"gate", std::string(HPH_CORPUS_DIR) + "/release.toml", "--out", out.string()}, 900);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("SHIP: every patched function passed every stage"), std::string::npos) << r.out;
  for (const char* file :
       {"gate.json", "gate.junit.xml", "gate.sarif", "gate.html", "check.json", "check.junit.xml", "check.sarif",
        "check.html", "trampoline/1.x64.bump.stop-the-world.json", "trampoline/2.arm64.bump.stop-the-world.json",
        "onhost/4.patch-b-direct-arm64.json", "onhost/3.patch-stop-the-world-x64.json", "logs/check.txt"})
    EXPECT_TRUE(fs::exists(out / file)) << file;
  const json gate = readJson(out / "gate.json");
  ASSERT_FALSE(gate.is_discarded());
  EXPECT_EQ(gate["schema"], "hph-gate/1");
  EXPECT_TRUE(gate["ship"].get<bool>());
  EXPECT_EQ(gate["exit_code"], 0);
  // Seven scenarios explored and applied on the host, two trampolines (stop-the-world's).
  size_t check = 0, trampoline = 0, onhost = 0;
  for (const json& item : gate["items"]) {
    EXPECT_EQ(item["verdict"], "pass") << item.dump();
    check += item["stage"] == "check";
    trampoline += item["stage"] == "trampoline";
    onhost += item["stage"] == "onhost";
  }
  EXPECT_EQ(check, 7u);
  EXPECT_EQ(trampoline, 2u);
  EXPECT_EQ(onhost, 7u);
  // A verdict per patched function and stage: int3-3step's bump_keyed needs no trampoline.
  ASSERT_EQ(gate["functions"].size(), 3u);
  for (const json& f : gate["functions"]) {
    EXPECT_EQ(f["verdict"], "pass") << f.dump();
    EXPECT_EQ(f["trampoline"], f["function"] == "bump_keyed" ? "n/a" : "pass") << f.dump();
  }
  // The digests are the images'.
  EXPECT_EQ(gate["images"][0]["base_sha256"].get<std::string>().size(), 64u);
  const std::string junit = readText(out / "gate.junit.xml");
  EXPECT_NE(junit.find("tests=\"16\" failures=\"0\""), std::string::npos) << junit.substr(0, 300);
  EXPECT_NE(readText(out / "gate.html").find("<h1 class=\"ship\" id=\"verdict\">Ship</h1>"), std::string::npos);
}

TEST(Gate, AnUnsafeScenarioStopsTheReleaseAndEveryReportSaysWhich) {
  const std::string safe = scenarioVariant("patch-padding-short-jmp.x64.toml", {}, "gate-safe.toml");
  const std::string unsafe =
      scenarioVariant("patch-naive-jmp5.x64.toml", {{"expect = \"[^\"]*\"\n", ""}}, "gate-unsafe.toml");
  const std::string manifest = manifestFile("gate-unsafe-release.toml", R"(release = "with an unsafe patch"
[[images]]
arch = "x64"
base = ")" + image("counter.x64.dll") + R"("
patch = ")" + image("counter_patch.x64.dll") + R"("
scenarios = [")" + safe + R"(", ")" + unsafe + R"("]
)");
  const fs::path out = outDir("gate-unsafe");
  const CommandResult r = runHph({"gate", manifest, "--out", out.string()}, 600);
  ASSERT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("DO NOT SHIP"), std::string::npos) << r.out;
  const json gate = readJson(out / "gate.json");
  EXPECT_FALSE(gate["ship"].get<bool>());
  // The unsafe plan is not applied on the host; the safe one is.
  for (const json& item : gate["items"])
    if (item["stage"] == "onhost") {
      EXPECT_EQ(item["verdict"], item["scenario"] == "patch-naive-jmp5-x64" ? "skipped" : "pass") << item.dump();
    }

  // JUnit: the check suite's case for the unsafe scenario fails.
  const std::string junit = readText(out / "gate.junit.xml");
  const size_t unsafeCase = junit.find("<testcase classname=\"x64.bump\" name=\"patch-naive-jmp5-x64\"");
  ASSERT_NE(unsafeCase, std::string::npos) << junit;
  EXPECT_EQ(junit.find("<failure message=\"violation:X2", unsafeCase), junit.find("<failure", unsafeCase));
  EXPECT_NE(junit.find("<failure", unsafeCase), std::string::npos);

  // SARIF: a result at the patched function's code (bump's RVA in counter.x64.dll).
  const auto counter = loadCorpusImage("counter.x64.dll");
  const FunctionInfo* bump = counter->image.findFunction("bump");
  ASSERT_NE(bump, nullptr);
  const std::string at = fmt::format("counter.x64.dll+{:#x}", bump->begin);
  bool pointsAtBump = false;
  const json sarif = readJson(out / "gate.sarif");
  for (const json& run : sarif["runs"])
    for (const json& result : run["results"])
      for (const json& location : result["locations"])
        for (const json& logical : location.value("logicalLocations", json::array()))
          pointsAtBump |= logical.value("fullyQualifiedName", "") == at && result["ruleId"] == "X2";
  EXPECT_TRUE(pointsAtBump) << at;
  // Valid SARIF 2.1.0 (Microsoft's multitool): only "no informationUri" may remain.
  ASSERT_TRUE(fs::exists(HPH_SARIF_MULTITOOL)) << "run ci/install-deps.sh (installs the SARIF multitool)";
  const std::string validation = (out / "validation.sarif").string();
  const CommandResult v =
      runProgram(HPH_SARIF_MULTITOOL, {"validate", (out / "gate.sarif").string(), "--output", validation}, 300);
  ASSERT_EQ(v.exitCode, 0) << v.out << v.err;
  for (const json& f : readJson(validation)["runs"][0]["results"]) {
    EXPECT_EQ(f["ruleId"], "SARIF2005") << f.dump();
    EXPECT_EQ(f["message"]["arguments"].size(), 2u) << f.dump();  // the informationUri one
  }

  // The page, as Chromium renders it, says do not ship and names the scenario that failed.
  const std::string chromium = "/usr/bin/chromium";
  ASSERT_TRUE(fs::exists(chromium)) << "Debian's chromium is missing: ci/install-deps.sh installs it";
  const std::string profile = (out / "chromium-profile").string();
  const CommandResult dom =
      runProgram(chromium,
                 {"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--user-data-dir=" + profile, "--dump-dom", "file://" + (out / "gate.html").string()},
                 120);
  ASSERT_EQ(dom.exitCode, 0) << dom.err;
  EXPECT_NE(dom.out.find("<h1 class=\"noship\" id=\"verdict\">Do not ship</h1>"), std::string::npos)
      << dom.out.substr(0, 400);
  EXPECT_NE(dom.out.find("<td>patch-naive-jmp5-x64</td><td class=\"fail\">fail</td>"), std::string::npos);
  fs::remove_all(profile);
}

// A release manifest of one x64 image set with these scenarios.
std::string x64Release(const std::string& name, const std::vector<std::string>& scenarios) {
  std::string list;
  for (const std::string& s : scenarios) list += (list.empty() ? "\"" : ", \"") + s + "\"";
  return manifestFile(name, "release = \"" + name + "\"\n[[images]]\narch = \"x64\"\nbase = \"" +
                                image("counter.x64.dll") + "\"\npatch = \"" + image("counter_patch.x64.dll") +
                                "\"\nscenarios = [" + list + "]\n");
}

// A CI engine's shard variables do not make the gate explore a part and call it whole:
// with GitLab's CI_NODE_* set, the exploration is the unsharded one.
TEST(Gate, StagesRunWholeWhateverShardVariablesSay) {
  const std::string manifest =
      x64Release("gate-sharded.toml", {scenarioVariant("patch-padding-short-jmp.x64.toml", {}, "gate-sharded-s.toml")});
  const fs::path out = outDir("gate-sharded");
  const CommandResult r = runProgram(
      "/usr/bin/env", {"CI_NODE_INDEX=2", "CI_NODE_TOTAL=4", HPH_BINARY, "gate", manifest, "--out", out.string()}, 600);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  const json check = readJson(out / "check.json");
  ASSERT_EQ(check["scenarios"].size(), 1u);
  EXPECT_EQ(check["scenarios"][0]["exploration"]["shard"], "0/1");
  EXPECT_TRUE(check["scenarios"][0]["exploration"]["exhausted"].get<bool>());
}

// Reports an earlier run left in --out never stand in for this run's: the gate removes its
// own files before any stage runs.
TEST(Gate, AnEarlierRunsReportsAreRemovedFirst) {
  const std::string unsafe =
      scenarioVariant("patch-naive-jmp5.x64.toml", {{"expect = \"[^\"]*\"\n", ""}}, "gate-stale-s.toml");
  const fs::path out = outDir("gate-stale");
  fs::create_directories(out / "onhost");
  fs::create_directories(out / "trampoline");
  for (const char* forged : {"gate.html", "onhost/1.gate-stale-s.json", "trampoline/1.x64.bump.stop-the-world.json"})
    fs::copy_file(writeTempFile("forged", {'s', 'h', 'i', 'p'}), out / forged, fs::copy_options::overwrite_existing);
  const CommandResult r = runHph({"gate", x64Release("gate-stale.toml", {unsafe}), "--out", out.string()}, 600);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_FALSE(fs::exists(out / "onhost/1.gate-stale-s.json"));  // not applied: its exploration failed
  EXPECT_FALSE(fs::exists(out / "trampoline/1.x64.bump.stop-the-world.json"));
  EXPECT_NE(readText(out / "gate.html").find("Do not ship"), std::string::npos);
}

// A patch the protocol refuses is a release that does not ship (exit 1), not bad input.
TEST(Gate, ARefusedPlanFailsTheRelease) {
  const std::string refused = scenarioVariant("patch-int3-3step-refused.x64.toml",
                                              {{"expect = \"refused\"[^\n]*\n", ""}}, "gate-refused-s.toml");
  const fs::path out = outDir("gate-refused");
  const CommandResult r = runHph({"gate", x64Release("gate-refused.toml", {refused}), "--out", out.string()}, 600);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  const json gate = readJson(out / "gate.json");
  ASSERT_FALSE(gate.is_discarded());
  bool refusedItem = false;
  for (const json& item : gate["items"])
    refusedItem |=
        item["stage"] == "check" && item["verdict"] == "fail" &&
        item["detail"].get<std::string>().find("int3-3step replaces one whole instruction") != std::string::npos;
  EXPECT_TRUE(refusedItem) << gate["items"].dump();
}

struct BadManifest {
  const char* name;
  std::string text;     // the manifest
  const char* message;  // what the one line on stderr says, after "<manifest>: "
};

void PrintTo(const BadManifest& c, std::ostream* os) { *os << c.name; }

std::vector<BadManifest> badManifests() {
  const std::string x64 = "arch = \"x64\"\nbase = \"" + image("counter.x64.dll") + "\"\npatch = \"" +
                          image("counter_patch.x64.dll") + "\"\n";
  const auto scenarios = [](const std::string& path) { return "scenarios = [\"" + path + "\"]\n"; };
  const std::string safe = corpusScenario("patch-padding-short-jmp.x64.toml");
  return {
      {"not_toml", "release = \n", "1:"},
      {"no_release", "[[images]]\n" + x64 + scenarios(safe), "release: missing"},
      {"unknown_key", "release = \"r\"\nrelase_notes = 1\n[[images]]\n" + x64 + scenarios(safe),
       "relase_notes: unknown key"},
      {"no_images", "release = \"r\"\n", "[[images]]: missing"},
      {"bad_arch", "release = \"r\"\n[[images]]\narch = \"mips\"\n", "[[images]][0].arch: 'mips' is not x64 or arm64"},
      {"base_not_a_file",
       "release = \"r\"\n[[images]]\narch = \"x64\"\nbase = \"no-such.dll\"\npatch = \"" +
           image("counter_patch.x64.dll") + "\"\n" + scenarios(safe),
       "[[images]][0].base:"},
      {"scenario_of_another_base",
       "release = \"r\"\n[[images]]\n" + x64 + scenarios(corpusScenario("patch-account.x64.toml")),
       "[[images]][0].scenarios[0]:"},
      {"scenario_of_another_arch",
       "release = \"r\"\n[[images]]\n" + x64 + scenarios(corpusScenario("patch-b-direct.arm64.toml")),
       "arch arm64 is not the image's x64"},
      {"canary_in_a_release",
       "release = \"r\"\n[[images]]\n" + x64 + scenarios(corpusScenario("patch-naive-jmp5.x64.toml")),
       "expects violation:X2; a release's scenarios expect holds"},
      {"bad_patcher", "release = \"r\"\n[[images]]\n" + x64 + scenarios(safe) + "[onhost]\npatcher = \"gdb\"\n",
       "[onhost].patcher: 'gdb' is not in-process or external"},
      {"zero_states", "release = \"r\"\n[[images]]\n" + x64 + scenarios(safe) + "[trampoline]\nstates = 0\n",
       "[trampoline].states"},
  };
}

class GateManifest : public ::testing::TestWithParam<BadManifest> {};

TEST_P(GateManifest, IsRefusedWithOneLineNamingTheFileAndField) {
  const BadManifest& c = GetParam();
  const std::string manifest = manifestFile(std::string("bad-") + c.name + ".toml", c.text);
  const fs::path out = outDir(std::string("gate-bad-") + c.name);
  const CommandResult r = runHph({"gate", manifest, "--out", out.string()}, 60);
  EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("hph: " + manifest, 0), 0u) << r.err;
  EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(out / "gate.json"));  // nothing ran
}

INSTANTIATE_TEST_SUITE_P(Bad, GateManifest, ::testing::ValuesIn(badManifests()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace hph::test
