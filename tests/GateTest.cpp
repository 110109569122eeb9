// `hph gate`: the bundled release ships with every report written; one unsafe scenario
// added stops it (exit 1), and the HTML (in Chromium), the SARIF and the JUnit say which;
// a manifest that is wrong is refused (exit 2) with one line naming the file and field.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "emu/pe/PeImage.h"
#include "support/Digest.h"
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

// A variant of a release's scenario: the release's own images, so its [onhost] counters
// stay (the on-host stage needs them).
std::string releaseVariant(const std::string& name, const std::vector<std::pair<std::string, std::string>>& edits,
                           const std::string& as) {
  return scenarioVariant(name, edits, as, OnHostTable::kKeep);
}

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
  const std::string safe = releaseVariant("patch-padding-short-jmp.x64.toml", {}, "gate-safe.toml");
  const std::string unsafe =
      releaseVariant("patch-naive-jmp5.x64.toml", {{"expect = \"[^\"]*\"\n", ""}}, "gate-unsafe.toml");
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
  const json validated = readJson(validation);  // named: a temporary would die before the loop
  for (const json& f : validated["runs"][0]["results"]) {
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

// Runs the gate over `manifest` in `count` shards: shard 0 by --shard, the others by
// GitLab's 1-based CI_NODE_* variables (as a CI engine spreads it); each must exit 0 or 1.
std::vector<fs::path> gateShards(const std::string& manifest, const std::string& name, uint32_t count) {
  std::vector<fs::path> dirs;
  for (uint32_t i = 0; i < count; ++i) {
    dirs.push_back(outDir(fmt::format("{}-shard{}", name, i)));
    const CommandResult r =
        i == 0 ? runHph({"gate", manifest, "--out", dirs.back().string(), "--shard", fmt::format("0/{}", count)}, 900)
               : runProgram("/usr/bin/env",
                            {fmt::format("CI_NODE_INDEX={}", i + 1), fmt::format("CI_NODE_TOTAL={}", count), HPH_BINARY,
                             "gate", manifest, "--out", dirs.back().string()},
                            900);
    // Never 0, which says ship: 4 nothing failed in this part, 1 something did.
    EXPECT_TRUE(r.exitCode == 4 || r.exitCode == 1) << r.out << r.err;
  }
  return dirs;
}

// The items as the verdict sees them: which stage, scenario and function, what verdict,
// and the report of each item that is not skipped (a shard may have applied a plan the
// merged exploration then skips: its report stays).
std::vector<std::string> itemVerdicts(const json& gate) {
  std::vector<std::string> out;
  for (const json& i : gate["items"])
    out.push_back(fmt::format("{} {} {} {} {}", i["stage"].get<std::string>(), i["scenario"].get<std::string>(),
                              i["function"].get<std::string>(), i["verdict"].get<std::string>(),
                              i["verdict"] == "skipped" ? "" : i["report"].get<std::string>()));
  return out;
}

// The bundled release in three shards, merged: the unsharded gate's verdicts, schedule
// counts and reports. Each shard explored its part only, ran its share of the trampoline
// and on-host jobs, and does not say ship.
TEST(Gate, ShardsMergedAreTheUnshardedRun) {
  const std::string manifest = std::string(HPH_CORPUS_DIR) + "/release.toml";
  const fs::path whole = outDir("gate-whole");
  const CommandResult unsharded = runHph({"gate", manifest, "--out", whole.string()}, 900);
  ASSERT_EQ(unsharded.exitCode, 0) << unsharded.out << unsharded.err;
  const std::vector<fs::path> shards = gateShards(manifest, "gate-ship", 3);
  size_t trampolines = 0, onhosts = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    const json part = readJson(shards[i] / "gate.json");
    ASSERT_FALSE(part.is_discarded()) << shards[i];
    EXPECT_FALSE(part["ship"].get<bool>());
    EXPECT_FALSE(part["part_failed"].get<bool>());
    EXPECT_EQ(part["shard"]["shard"], fmt::format("{}/3", i));
    EXPECT_EQ(part["shard"]["source"], i == 0 ? "--shard" : "CI_NODE_INDEX/CI_NODE_TOTAL");
    const json check = readJson(shards[i] / "check.json");
    for (const json& s : check["scenarios"]) EXPECT_EQ(s["exploration"]["shard"], fmt::format("{}/3", i));
    for (const json& item : part["items"]) {
      trampolines += item["stage"] == "trampoline";
      onhosts += item["stage"] == "onhost";
    }
    EXPECT_NE(readText(shards[i] / "gate.html").find(fmt::format("Shard {}/3: nothing failed in this part", i)),
              std::string::npos);
  }
  EXPECT_EQ(trampolines, 2u);
  EXPECT_EQ(onhosts, 7u);
  const fs::path merged = outDir("gate-merged");
  const CommandResult merge = runHph({"merge", (shards[2] / "gate.json").string(), (shards[0] / "gate.json").string(),
                                      (shards[1] / "gate.json").string(), "--out", merged.string()},
                                     300);
  ASSERT_EQ(merge.exitCode, 0) << merge.out << merge.err;
  EXPECT_NE(merge.out.find("SHIP: every patched function passed every stage"), std::string::npos) << merge.out;
  const json a = readJson(whole / "gate.json"), m = readJson(merged / "gate.json");
  EXPECT_TRUE(m["ship"].get<bool>());
  EXPECT_EQ(m["functions"], a["functions"]);
  EXPECT_EQ(itemVerdicts(m), itemVerdicts(a));
  const json checkA = readJson(whole / "check.json"), checkM = readJson(merged / "check.json");
  ASSERT_EQ(checkM["scenarios"].size(), checkA["scenarios"].size());
  for (size_t i = 0; i < checkA["scenarios"].size(); ++i)
    EXPECT_EQ(checkM["scenarios"][i]["exploration"]["schedules"], checkA["scenarios"][i]["exploration"]["schedules"])
        << checkA["scenarios"][i]["name"];
  for (const json& item : m["items"])
    if (!item["report"].get<std::string>().empty()) EXPECT_TRUE(fs::exists(merged / item["report"].get<std::string>()));
  EXPECT_NE(readText(merged / "gate.html").find("<h1 class=\"ship\" id=\"verdict\">Ship</h1>"), std::string::npos);
}

// An unsafe scenario found in one shard: that shard exits 1, the merge does not ship, and
// its first counterexample is the unsharded run's.
TEST(Gate, AnUnsafeScenarioFoundInAShardStopsTheMergedRelease) {
  const std::string unsafe =
      releaseVariant("patch-naive-jmp5.x64.toml", {{"expect = \"[^\"]*\"\n", ""}}, "gate-shard-unsafe-s.toml");
  const std::string manifest = x64Release("gate-shard-unsafe.toml", {unsafe});
  const fs::path whole = outDir("gate-unsafe-whole");
  EXPECT_EQ(runHph({"gate", manifest, "--out", whole.string()}, 600).exitCode, 1);
  const std::vector<fs::path> shards = gateShards(manifest, "gate-unsafe", 2);
  bool someShardFailed = false;
  for (const fs::path& dir : shards) someShardFailed |= readJson(dir / "gate.json")["part_failed"].get<bool>();
  EXPECT_TRUE(someShardFailed);
  const fs::path merged = outDir("gate-unsafe-merged");
  const CommandResult merge = runHph(
      {"merge", (shards[0] / "gate.json").string(), (shards[1] / "gate.json").string(), "--out", merged.string()}, 300);
  EXPECT_EQ(merge.exitCode, 1) << merge.out << merge.err;
  const json a = readJson(whole / "gate.json"), m = readJson(merged / "gate.json");
  EXPECT_FALSE(m["ship"].get<bool>());
  EXPECT_EQ(itemVerdicts(m), itemVerdicts(a));
  const json ca = readJson(whole / "check.json")["scenarios"][0], cm = readJson(merged / "check.json")["scenarios"][0];
  ASSERT_TRUE(cm.contains("counterexample")) << cm.dump();
  EXPECT_EQ(cm["counterexample"]["property"], ca["counterexample"]["property"]);
  EXPECT_EQ(cm["counterexample"]["replay"], ca["counterexample"]["replay"]);
  EXPECT_NE(readText(merged / "gate.html").find("Do not ship"), std::string::npos);
}

// Shards that do not make one run are refused, naming the report: one missing, one given
// twice, a shard of another release, an unsharded gate's report, --out a shard's directory.
TEST(Gate, MergingShardsThatAreNotOneRunIsRefused) {
  const std::string scenario = releaseVariant("patch-padding-short-jmp.x64.toml", {}, "gate-refuse-s.toml");
  const std::vector<fs::path> shards = gateShards(x64Release("gate-refuse.toml", {scenario}), "gate-refuse", 2);
  const std::vector<fs::path> other = gateShards(x64Release("gate-other.toml", {scenario}), "gate-other", 2);
  const fs::path unsharded = outDir("gate-refuse-whole");
  ASSERT_EQ(runHph({"gate", x64Release("gate-refuse.toml", {scenario}), "--out", unsharded.string()}, 600).exitCode, 0);
  const std::string s0 = (shards[0] / "gate.json").string(), s1 = (shards[1] / "gate.json").string();
  const std::string out = outDir("gate-refuse-merged").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"merge", s0, "--out", out}, "shard 1/2 is missing (1 report given)"},
      {{"merge", s0, s0, "--out", out}, "both are shard 0/2"},
      {{"merge", s0, (other[1] / "gate.json").string(), "--out", out}, "release differs from"},
      {{"merge", s0, (unsharded / "gate.json").string(), "--out", out}, "shard: missing"},
      {{"merge", s0, s1}, "--out: gate.json shards merge into a directory"},
      {{"merge", s0, s1, "--out", shards[1].string()}, "is the directory of the shard"},
      {{"merge", s0, s1, "--out", ""}, "--out: empty"},
  };
  for (const auto& [args, message] : cases) {
    const CommandResult r = runHph(args, 120);
    EXPECT_EQ(r.exitCode, 2) << message << r.out;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_TRUE(fs::exists(shards[1] / "gate.json"));  // the refused --out left the shard alone
}

// A shard whose report leaves out or takes over a job, whose exploration broke, or which
// found a violation the merge would not keep cannot make the release ship.
TEST(Gate, AShardsMissingOrForgedPartIsNeverAPass) {
  const std::string scenario = releaseVariant("patch-stop-the-world.x64.toml", {}, "gate-forged-s.toml");
  const std::vector<fs::path> shards = gateShards(x64Release("gate-forged.toml", {scenario}), "gate-forged", 2);
  const json s0 = readJson(shards[0] / "gate.json"), s1 = readJson(shards[1] / "gate.json");
  ASSERT_EQ(s0["jobs"]["trampoline"].size(), 1u);  // job 0: shard 0's, as is the on-host job
  // A copy of shard I whose gate.json (or check.json) `edit` changes.
  bool pinCheck = true;
  const auto forged = [&](size_t i, const std::string& name, const std::function<void(json&)>& edit,
                          const char* file = "gate.json") {
    const fs::path dir = outDir(name);
    fs::copy(shards[i], dir, fs::copy_options::recursive);
    json document = readJson(dir / file);
    edit(document);
    const auto write = [&](const char* to, const json& d) {
      const std::string text = d.dump();
      fs::remove(dir / to);
      fs::copy_file(writeTempFile(name + "." + to, {text.begin(), text.end()}), dir / to);
    };
    write(file, document);
    // A forged exploration comes with its gate.json pinning it (else the merge refuses it).
    if (std::string(file) == "check.json" && pinCheck) {
      json gate = readJson(dir / "gate.json");
      gate["check_sha256"] = sha256OfFile((dir / "check.json").string());
      write("gate.json", gate);
    }
    return (dir / "gate.json").string();
  };
  const fs::path merged = outDir("gate-forged-merged");
  const auto merge = [&](const std::string& a, const std::string& b) {
    return runHph({"merge", a, b, "--out", merged.string()}, 300);
  };
  ASSERT_EQ(merge((shards[0] / "gate.json").string(), (shards[1] / "gate.json").string()).exitCode, 0);

  const auto withoutTrampoline = [](json& d) {
    json kept = json::array();
    for (const json& i : d["items"])
      if (i["stage"] != "trampoline") kept.push_back(i);
    d["items"] = kept;
  };
  const CommandResult left =
      merge(forged(0, "gate-forged-left", withoutTrampoline), (shards[1] / "gate.json").string());
  EXPECT_EQ(left.exitCode, 1) << left.out << left.err;
  EXPECT_NE(readText(merged / "gate.json").find("no shard reported this job (shard 0 owns it)"), std::string::npos);

  const CommandResult taken =
      merge(forged(0, "gate-forged-own", withoutTrampoline), forged(1, "gate-forged-taken", [&](json& d) {
              for (const json& i : s0["items"])
                if (i["stage"] == "trampoline") d["items"].push_back(i);
            }));
  EXPECT_EQ(taken.exitCode, 2) << taken.out << taken.err;
  EXPECT_NE(taken.err.find("a trampoline job (number 0) that is shard 0's, not this one's"), std::string::npos)
      << taken.err;

  const CommandResult broken =
      merge((shards[0] / "gate.json").string(),
            forged(1, "gate-forged-broken", [](json& d) { d["check_broken"] = "hph check ended with signal 9"; }));
  EXPECT_EQ(broken.exitCode, 1) << broken.out << broken.err;
  EXPECT_NE(readText(merged / "gate.json").find("shard 1: hph check ended with signal 9"), std::string::npos);

  // Interrupted after its last stage ended: every item as it was, but the part unfinished.
  const CommandResult stopped =
      merge((shards[0] / "gate.json").string(),
            forged(1, "gate-forged-interrupted", [](json& d) { d["interrupted"] = "SIGTERM"; }));
  EXPECT_EQ(stopped.exitCode, 1) << stopped.out << stopped.err;
  EXPECT_NE(stopped.out.find("DO NOT SHIP: the gate was interrupted"), std::string::npos) << stopped.out;
  EXPECT_EQ(readJson(merged / "gate.json")["interrupted"], "SIGTERM (shard 1/2)");

  const CommandResult found = merge((shards[0] / "gate.json").string(),
                                    forged(
                                        1, "gate-forged-found",
                                        [](json& d) {
                                          d["scenarios"][0]["counterexample"] = {
                                              {"property", "X2"}, {"message", "forged"}, {"replay", "hph2.forged"}};
                                        },
                                        "check.json"));
  EXPECT_EQ(found.exitCode, 1) << found.out << found.err;
  EXPECT_NE(readText(merged / "gate.json").find("shard 1 found X2: forged (hph replay hph2.forged)"),
            std::string::npos);

  // Another run's exploration in a shard's directory: refused, naming the file.
  pinCheck = false;
  const CommandResult swapped = merge(
      (shards[0] / "gate.json").string(),
      forged(
          1, "gate-forged-swapped", [](json& d) { d["scenarios"][0]["exploration"]["schedules"] = 1; }, "check.json"));
  EXPECT_EQ(swapped.exitCode, 2) << swapped.out << swapped.err;
  EXPECT_NE(swapped.err.find("check.json: not the exploration of"), std::string::npos) << swapped.err;
}

// Ctrl-C (SIGINT to the gate, as a terminal sends it to the gate's process group alone)
// while a long exploration runs: it stops inconclusive, the on-host job is skipped, every
// report is written, and the release does not ship.
TEST(Gate, ASignalStopsTheStageRunningAndLeavesEveryReport) {
  const std::string manifest = x64Release(
      "gate-signal.toml", {std::string(HPH_CORPUS_DIR) + "/../bench/scenarios/stop-the-world-40-calls.x64.toml"});
  const fs::path out = outDir("gate-signal");
  const CommandResult r = runHphSignalledOn({"gate", manifest, "--out", out.string(), "--progress", "0.05"},
                                            "hph: stop-the-world-40-calls-x64", SIGINT, 300);
  ASSERT_FALSE(r.timedOut) << r.out << r.err;
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("interrupted by SIGINT"), std::string::npos) << r.out;
  const json gate = readJson(out / "gate.json");
  ASSERT_FALSE(gate.is_discarded());
  EXPECT_EQ(gate["interrupted"], "SIGINT");
  EXPECT_FALSE(gate["ship"].get<bool>());
  std::map<std::string, std::string> verdicts;
  for (const json& item : gate["items"]) verdicts[item["stage"].get<std::string>()] = item["verdict"];
  EXPECT_EQ(verdicts["check"], "fail");
  EXPECT_EQ(verdicts["trampoline"], "skipped");
  EXPECT_EQ(verdicts["onhost"], "skipped");
  EXPECT_EQ(readJson(out / "check.json")["scenarios"][0]["verdict"], "inconclusive");
  for (const char* file : {"gate.junit.xml", "gate.sarif", "gate.html", "check.html"})
    EXPECT_TRUE(fs::exists(out / file)) << file;
}

// Reports an earlier run left in --out never stand in for this run's: the gate removes its
// own files before any stage runs.
TEST(Gate, AnEarlierRunsReportsAreRemovedFirst) {
  const std::string unsafe =
      releaseVariant("patch-naive-jmp5.x64.toml", {{"expect = \"[^\"]*\"\n", ""}}, "gate-stale-s.toml");
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
// A scenario whose worker dies fails, and only it: the gate names its internal error and
// judges the other scenarios by their own verdicts (every item once read "hph check ended
// with status 3").
TEST(Gate, AWorkerThatDiesFailsItsScenarioAlone) {
  // A search long enough to reach its first progress beat, where the injected death comes.
  const std::string dies = std::string(HPH_CORPUS_DIR) + "/../bench/scenarios/padding-short-jmp-40-calls.x64.toml";
  const std::string lives = releaseVariant("patch-stop-the-world.x64.toml", {}, "gate-lives.toml");
  const fs::path out = outDir("gate-worker-dies");
  setenv("HPH_TEST_WORKER_DIES", "padding-short-jmp-40-calls-x64:11", 1);
  const CommandResult r =
      runHph({"gate", x64Release("gate-dies-release.toml", {dies, lives}), "--out", out.string()}, 600);
  unsetenv("HPH_TEST_WORKER_DIES");
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  const json gate = readJson(out / "gate.json");
  size_t failed = 0, passed = 0;
  for (const json& item : gate["items"]) {
    if (item["stage"] != "check") continue;
    if (item["scenario"] == "padding-short-jmp-40-calls-x64") {
      ++failed;
      EXPECT_EQ(item["verdict"], "fail") << item.dump();
      EXPECT_NE(item["detail"].get<std::string>().find("internal-error"), std::string::npos) << item.dump();
    } else {
      ++passed;
      EXPECT_EQ(item["verdict"], "pass") << item.dump();
    }
  }
  EXPECT_EQ(failed, 1u);
  EXPECT_EQ(passed, 1u);
}

// Two scenarios of one name: the on-host stage follows each one's own exploration (by
// file), so the safe one is applied though its namesake failed (it was skipped as "its
// exploration did not hold").
TEST(Gate, TwoScenariosOfOneNameAreJudgedEachByItsOwnExploration) {
  const std::string safe =
      releaseVariant("patch-padding-short-jmp.x64.toml",
                     {{"name = \"patch-padding-short-jmp-x64\"", "name = \"same\""}}, "gate-same-safe.toml");
  const std::string unsafe = releaseVariant(
      "patch-naive-jmp5.x64.toml",
      {{"expect = \"[^\"]*\"\n", ""}, {"name = \"patch-naive-jmp5-x64\"", "name = \"same\""}}, "gate-same-unsafe.toml");
  const fs::path out = outDir("gate-same-name");
  const CommandResult r =
      runHph({"gate", x64Release("gate-same-release.toml", {safe, unsafe}), "--out", out.string()}, 600);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  const json gate = readJson(out / "gate.json");
  for (const json& item : gate["items"])
    if (item["stage"] == "onhost") {
      const bool isSafe = item["file"] == safe;
      EXPECT_EQ(item["verdict"], isSafe ? "pass" : "skipped") << item.dump();
    }
}

TEST(Gate, ARefusedPlanFailsTheRelease) {
  const std::string refused = releaseVariant("patch-int3-3step-refused.x64.toml",
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
      // A release's scenario asks the whole question: exhaustively, every property, the
      // protocol as shipped (each of these once made a release ship on 2 random schedules).
      {"sampled_search_in_a_release",
       "release = \"r\"\n[[images]]\n" + x64 +
           scenarios(releaseVariant("patch-padding-short-jmp.x64.toml",
                                    {{"strategy = \"exhaustive\"", "strategy = \"random\"\nschedules = 2"}},
                                    "gate-sampled.toml")),
       "[explore] strategy = \"random\": a sampled search cannot show a patch safe"},
      {"ignored_property_in_a_release",
       "release = \"r\"\n[[images]]\n" + x64 +
           scenarios(releaseVariant("patch-padding-short-jmp.x64.toml",
                                    {{"invariant = \"verify\"", "invariant = \"verify\"\nignore = [\"C2\", \"X2\"]"}},
                                    "gate-ignoring.toml")),
       "[check] ignore = C2, X2: a release's scenarios check every property"},
      {"defect_in_a_release",
       "release = \"r\"\n[[images]]\n" + x64 +
           scenarios(releaseVariant(
               "patch-padding-short-jmp.x64.toml",
               {{"name = \"padding-short-jmp\"", "name = \"padding-short-jmp\"\ndefect = \"no-release\""}},
               "gate-defect.toml")),
       "[protocol] defect: a deliberately broken protocol is a canary"},
      {"static_checks_off_in_a_release",
       "release = \"r\"\n[[images]]\n" + x64 +
           scenarios(releaseVariant("patch-padding-short-jmp.x64.toml",
                                    {{"invariant = \"verify\"", "invariant = \"verify\"\nstatic_checks = false"}},
                                    "gate-no-static-checks.toml")),
       "[check] static_checks = false"},
      {"no_fetch_model_in_a_release",
       "release = \"r\"\n[[images]]\narch = \"arm64\"\nbase = \"" + image("counter.arm64.dll") + "\"\npatch = \"" +
           image("counter_patch.arm64.dll") + "\"\n" +
           scenarios(releaseVariant("patch-b-direct.arm64.toml",
                                    {{"\\[explore\\]", "[arm64]\nfetch_model = false\n\n[explore]"}},
                                    "gate-no-fetch-model.toml")),
       "[arm64] fetch_model = false"},
      // Without a scenario's [onhost] counters the on-host stage cannot tell whether calls
      // after the plan ran the new code (it passed on bytes and faults alone).
      {"no_onhost_counters_in_a_release",
       "release = \"r\"\n[[images]]\n" + x64 +
           scenarios(scenarioVariant("patch-padding-short-jmp.x64.toml", {}, "gate-no-counters.toml")),
       "no [onhost] calls and new_calls: the on-host stage could not tell"},
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
