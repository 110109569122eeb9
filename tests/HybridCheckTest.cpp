// `hph check` on hybrid scenarios (arch = "arm64ec"): the serial hybrid run and H1-H4 on
// the corpus's hybrid image and its patch image. Each checker fires on its canary and
// holds on the safe patches; each path is the one the image's own callers take.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "emu/pe/ChpeMetadata.h"
#include "emu/pe/PeFormat.h"
#include "harness/HybridCheck.h"
#include "properties/EntryPaths.h"
#include "properties/HybridRun.h"
#include "properties/HybridStoreChecks.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

HybridCheckResult checked(const std::string& scenario, const std::function<void(Scenario&)>& adjust = {}) {
  auto inputs = preparedScenario(corpusScenario(scenario), adjust);
  if (!inputs) return {};
  auto result = checkHybrid(*inputs);
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? std::move(result).value() : HybridCheckResult{};
}

std::vector<std::string> messagesOf(const HybridCheckResult& r, Property property) {
  std::vector<std::string> out;
  for (const HybridFinding& f : r.findings)
    if (f.property == property) out.push_back(f.message);
  return out;
}

const PathOutcome* pathOf(const std::vector<PathOutcome>& outcomes, EntryPathKind kind) {
  for (const PathOutcome& o : outcomes)
    if (o.path.kind == kind) return &o;
  return nullptr;
}

// The text of the JUnit test case `name` in the report at `path` ("" when there is none).
std::string junitCase(const std::string& path, const std::string& name) {
  const auto bytes = readFile(path);
  const std::string xml(bytes.begin(), bytes.end());
  const size_t begin = xml.find("name=\"" + name + "\"");
  if (begin == std::string::npos) return "";
  const size_t end = xml.find("</testcase>", begin);
  return xml.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

bool mentions(const std::vector<std::string>& messages, const std::string& a, const std::string& b) {
  for (const std::string& m : messages)
    if (m.find(a) != std::string::npos && m.find(b) != std::string::npos) return true;
  return false;
}

TEST(HybridCheck, AnX64EntryPatchOfAPlainFunctionMissesItsArm64ecAndDirectX64Callers) {
  const HybridCheckResult r = checked("canary-hybrid-x64-entry.toml");
  ASSERT_FALSE(r.run.after.empty());
  // Before the plan every path reaches the old body; after it, the x64 entry's callers
  // reach add_v2 and the callers past the x64 entry still reach the old body.
  for (const PathOutcome& o : r.run.before) EXPECT_EQ(o.reach, PathReach::kOld) << o.path.name;
  EXPECT_EQ(pathOf(r.run.after, EntryPathKind::kX64ThroughExport)->reach, PathReach::kNew);
  EXPECT_EQ(pathOf(r.run.after, EntryPathKind::kEcIndirect)->reach, PathReach::kNew);
  EXPECT_EQ(pathOf(r.run.after, EntryPathKind::kEcDirect)->reach, PathReach::kOld);
  EXPECT_EQ(pathOf(r.run.after, EntryPathKind::kX64DirectToBody)->reach, PathReach::kOld);
  EXPECT_EQ(pathOf(r.run.after, EntryPathKind::kEcIndirectToBody)->reach, PathReach::kOld);
  const auto h1 = messagesOf(r, Property::kH1);
  EXPECT_EQ(h1.size(), 3u);
  EXPECT_TRUE(mentions(h1, "Arm64EC direct call", "scaled+0x")) << ::testing::PrintToString(h1);
  EXPECT_TRUE(mentions(h1, "x64 direct call to the Arm64EC body", "x64_calls_add+0x")) << ::testing::PrintToString(h1);
  EXPECT_TRUE(mentions(h1, "the body's address", "apply_add+0x")) << ::testing::PrintToString(h1);
  EXPECT_TRUE(messagesOf(r, Property::kH2).empty());
  EXPECT_TRUE(messagesOf(r, Property::kH3).empty());
  EXPECT_TRUE(messagesOf(r, Property::kH4).empty());
}

TEST(HybridCheck, TheViolationReplaysFromItsToken) {
  const std::string json = writeTempFile("hybrid-check.json", {});
  const CommandResult check = runHph({"check", corpusScenario("canary-hybrid-x64-entry.toml"), "--json", json});
  ASSERT_EQ(check.exitCode, 0) << check.out << check.err;
  const auto report = nlohmann::json::parse(readFile(json));
  const nlohmann::json& s = report["scenarios"][0];
  EXPECT_EQ(s["arch"], "arm64ec");
  EXPECT_EQ(s["verdict"], "violation:H1");
  EXPECT_EQ(s["hybrid"]["site"], "x64-entry");
  EXPECT_EQ(s["hybrid"]["paths"].size(), 6u);
  // Each path: what it reached before and after the plan, and on which engine.
  for (const auto& path : s["hybrid"]["paths"]) {
    EXPECT_EQ(path["before"], "old") << path.dump();
    EXPECT_FALSE(path.contains("patched")) << path.dump();  // not a reversed plan
  }
  const std::string token = s["counterexample"]["replay"];
  const CommandResult replay = runHph({"replay", token});
  EXPECT_EQ(replay.exitCode, 1) << replay.out << replay.err;
  EXPECT_NE(replay.out.find("violation:H1"), std::string::npos) << replay.out;
  EXPECT_NE(replay.out.find("x64_calls_add+0x"), std::string::npos) << replay.out;
}

TEST(HybridCheck, TheSameX64EntryPatchOfAHybridPatchableFunctionReachesEveryPath) {
  const HybridCheckResult r = checked("patch-hybrid-patchable.toml");
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().message;
  ASSERT_NE(pathOf(r.run.after, EntryPathKind::kEcDirect), nullptr);
  EXPECT_TRUE(pathOf(r.run.after, EntryPathKind::kEcDirect)->path.hybridPatchable);
  for (const PathOutcome& o : r.run.before) EXPECT_EQ(o.reach, PathReach::kOld) << o.path.name;
  for (const PathOutcome& o : r.run.after) EXPECT_EQ(o.reach, PathReach::kNew) << o.path.name;
  // The hybpatch thunk computes the body's address for dispatch_call: not an indirect path.
  EXPECT_EQ(pathOf(r.run.after, EntryPathKind::kEcIndirectToBody), nullptr);
}

TEST(HybridCheck, ANativePatchOfTheBodyReachesEveryPath) {
  const HybridCheckResult r = checked("patch-hybrid-native.toml");
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().message;
  EXPECT_EQ(r.run.after.size(), 6u);
  for (const PathOutcome& o : r.run.after) {
    EXPECT_EQ(o.reach, PathReach::kNew) << o.path.name;
    EXPECT_TRUE(o.onArm64) << o.path.name;  // add_v2 is Arm64EC code
  }
}

TEST(HybridCheck, AfterAPatchAndItsUnpatchEveryPathReachesTheOriginalAgain) {
  const HybridCheckResult r = checked("patch-hybrid-native.toml", [](Scenario& s) { s.reverse = true; });
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().message;
  EXPECT_EQ(r.run.stores, 4u);  // two to patch, two to unpatch
  ASSERT_EQ(r.run.patched.size(), r.run.after.size());
  for (const PathOutcome& o : r.run.patched) EXPECT_EQ(o.reach, PathReach::kNew) << o.path.name;
  for (const PathOutcome& o : r.run.after) EXPECT_EQ(o.reach, PathReach::kOld) << o.path.name;
}

// A reversed plan whose first store covers the whole body: no byte of the old body is left
// to recognise it by while the patch is in place, so the whole body counts as old code only
// while it holds its original bytes (it once stopped every patched call at the new branch
// and called it old: a false H1).
TEST(HybridCheck, AReversedPlanOverTheWholeBodyReachesTheReplacementWhileInPlace) {
  auto inputs = preparedScenario(corpusScenario("patch-hybrid-native.toml"));
  ASSERT_TRUE(inputs);
  const PatchSite& site = inputs->layout.sites.at(0);
  const PeImage& base = *inputs->base;
  const auto f = std::find_if(base.chpe->functions.begin(), base.chpe->functions.end(),
                              [](const HybridFunction& h) { return h.name == "add"; });
  ASSERT_NE(f, base.chpe->functions.end());
  const uint64_t body = base.imageBase + f->body, size = f->bodyEnd - f->body;
  ASSERT_EQ(site.entry, body);
  ASSERT_GE(size, 4u);
  // b replacement, then NOPs to the end of the body; then the original bytes back.
  std::vector<uint8_t> patch(size);
  const auto word = [&](size_t at, uint32_t w) { std::memcpy(patch.data() + at, &w, 4); };
  word(0, 0x14000000u | ((static_cast<uint32_t>((site.replacement - body) / 4)) & 0x3FFFFFFu));
  for (size_t at = 4; at + 4 <= size; at += 4) word(at, 0xD503201Fu);
  Plan plan;
  plan.steps.push_back(StoreStep{body, patch, "add+0x0"});
  plan.steps.push_back(StoreStep{body, base.bytesAt(f->body, static_cast<uint32_t>(size)), "add+0x0"});
  HybridRunSetup setup{.base = &base,
                       .layout = &inputs->layout,
                       .plan = &plan,
                       .planArch = ArchKind::kArm64,
                       .args = {1, 2, 3, 4},
                       .reverse = true,
                       .patchSteps = 1};
  auto run = runHybridPlan(setup);
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_TRUE(run->findings.empty()) << run->findings.front().message;
  ASSERT_FALSE(run->patched.empty());
  for (const PathOutcome& o : run->patched) EXPECT_EQ(o.reach, PathReach::kNew) << o.path.name;
  for (size_t i = 0; i < run->after.size(); ++i) EXPECT_EQ(run->after[i].reach, run->before[i].reach);
  for (const PathOutcome& o : run->before) EXPECT_EQ(o.reach, PathReach::kOld) << o.path.name;
}

// Reversed, a patch that misses paths while it is in place is caught there: the unpatch
// putting the original back does not hide it (it did when H1 judged the end alone).
TEST(HybridCheck, AReversedPatchIsJudgedWhileItIsInPlace) {
  const HybridCheckResult r = checked("canary-hybrid-x64-entry.toml", [](Scenario& s) { s.reverse = true; });
  const auto h1 = messagesOf(r, Property::kH1);
  EXPECT_EQ(h1.size(), 3u) << ::testing::PrintToString(h1);
  EXPECT_TRUE(mentions(h1, "after the patch (before its unpatch)", "x64_calls_add+0x")) << ::testing::PrintToString(h1);
  for (const PathOutcome& o : r.run.after) EXPECT_EQ(o.reach, PathReach::kOld) << o.path.name;
}

TEST(HybridCheck, H1JudgesTheStateAfterThePlansLastStoreEvenADataStore) {
  // literal-swap redirects the entry through a literal its last step (a data store) sets.
  const HybridCheckResult r =
      checked("patch-hybrid-native.toml", [](Scenario& s) { s.protocol = ProtocolKind::kLiteralSwap; });
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().message;
  EXPECT_EQ(r.run.stores, 5u);  // trampoline, literal, indirection, entry branch, the literal's swap
  for (const PathOutcome& o : r.run.after) EXPECT_EQ(o.reach, PathReach::kNew) << o.path.name;
}

TEST(HybridCheck, IgnoredPropertiesAreNotReported) {
  const HybridCheckResult r =
      checked("canary-hybrid-x64-over-body.toml", [](Scenario& s) { s.ignore = {Property::kH3, Property::kH1}; });
  ASSERT_FALSE(r.findings.empty());
  for (const HybridFinding& f : r.findings) EXPECT_EQ(f.property, Property::kH2) << f.message;
}

TEST(HybridCheck, ReportsCarryEveryFindingAndShardsMerge) {
  const std::string junit = writeTempFile("hybrid.xml", {}), sarif = writeTempFile("hybrid.sarif", {});
  const CommandResult check =
      runHph({"check", corpusScenario("canary-hybrid-x64-over-body.toml"), "--junit", junit, "--sarif", sarif});
  ASSERT_EQ(check.exitCode, 0) << check.out << check.err;
  const auto xmlBytes = readFile(junit);
  const std::string xml(xmlBytes.begin(), xmlBytes.end());
  EXPECT_NE(xml.find("also found: the store of 5 bytes at add-0x5"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("<failure"), std::string::npos) << xml;  // the canary caught what it shows
  const auto log = nlohmann::json::parse(readFile(sarif));
  std::set<std::string> rules;
  for (const auto& result : log["runs"][0]["results"]) rules.insert(result["ruleId"].get<std::string>());
  EXPECT_EQ(rules, (std::set<std::string>{"H1", "H2", "H3"}));
  // Shards of hybrid scenarios alone merge: each ran it whole.
  const std::string a = writeTempFile("hybrid-shard-0.json", {}), b = writeTempFile("hybrid-shard-1.json", {});
  for (const auto& [index, out] : {std::pair{"0/2", a}, std::pair{"1/2", b}}) {
    const CommandResult r =
        runHph({"check", corpusScenario("patch-hybrid-native.toml"), "--shard", index, "--json", out});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  }
  const CommandResult merged = runHph({"merge", a, b});
  EXPECT_EQ(merged.exitCode, 0) << merged.out << merged.err;
  EXPECT_NE(merged.out.find("holds (H1, H2, H3, H4) — serial hybrid run"), std::string::npos) << merged.out;
}

// A property [check] ignore names was not checked: its JUnit case is skipped, not passed.
TEST(HybridCheck, AnIgnoredPropertyIsASkippedCaseNotAPass) {
  const std::string scenario = scenarioVariant(
      "canary-hybrid-stale-engine.toml",
      {{"expect = \"violation:H4\"", "expect = \"violation:H1\"\nignore = [\"H4\"]"}}, "stale-engine-h4-ignored.toml");
  const std::string junit = writeTempFile("ignored.xml", {});
  const CommandResult check = runHph({"check", scenario, "--junit", junit});
  ASSERT_EQ(check.exitCode, 0) << check.out << check.err;
  const std::string h4 = junitCase(junit, "H4");
  ASSERT_FALSE(h4.empty());
  EXPECT_EQ(h4.find("<skipped message=\"not checked: [check] ignore names it\"/>"), h4.find("<skipped")) << h4;
  EXPECT_NE(h4.find("<skipped"), std::string::npos) << h4;
}

// A canary that ignores the very property it expects never fires: its case fails, it is
// not skipped.
TEST(HybridCheck, ACanaryIgnoringWhatItExpectsFailsItsCase) {
  const std::string scenario =
      scenarioVariant("canary-hybrid-stale-engine.toml",
                      {{"expect = \"violation:H4\"", "expect = \"violation:H4\"\nignore = [\"H4\", \"H1\"]"}},
                      "stale-engine-expects-ignored.toml");
  const std::string junit = writeTempFile("expects-ignored.xml", {});
  const CommandResult check = runHph({"check", scenario, "--junit", junit});
  EXPECT_EQ(check.exitCode, 1) << check.out << check.err;
  const std::string h4 = junitCase(junit, "H4");
  ASSERT_FALSE(h4.empty());
  EXPECT_NE(h4.find("<failure"), std::string::npos) << h4;
  EXPECT_EQ(h4.find("<skipped"), std::string::npos) << h4;
}

// The path table and JSON of a reversed plan show it with the patch in place too; a path
// that stopped at no probe names no engine (it was reported as x64 whatever ran it).
TEST(HybridCheck, ReportsShowAReversedPlanInPlaceAndNoEngineForAPathThatReachedNeither) {
  const std::string json = writeTempFile("hybrid-reversed.json", {});
  const std::string reversed = scenarioVariant("canary-hybrid-x64-entry.toml",
                                               {{"site = \"x64-entry\"", "site = \"x64-entry\"\nreverse = true"}},
                                               "hybrid-x64-entry-reversed.toml");
  const CommandResult check = runHph({"check", reversed, "--json", json});
  EXPECT_NE(check.out.find("before the plan -> with the patch in place -> after the unpatch"), std::string::npos)
      << check.out;
  EXPECT_NE(check.out.find("old -> old -> old  (taken by x64_calls_add"), std::string::npos) << check.out;
  const auto report = nlohmann::json::parse(readFile(json));
  const auto& paths = report["scenarios"][0]["hybrid"]["paths"];
  ASSERT_FALSE(paths.empty());
  bool missed = false;
  for (const auto& path : paths) {
    ASSERT_TRUE(path.contains("patched")) << path.dump();
    missed = missed || path["patched"] == "old";
  }
  EXPECT_TRUE(missed) << paths.dump(1);

  const std::string inlined = writeTempFile("hybrid-inlined.json", {});
  ASSERT_EQ(runHph({"check", corpusScenario("canary-hybrid-inlined.toml"), "--json", inlined}).exitCode, 0);
  const auto r = nlohmann::json::parse(readFile(inlined));
  size_t neither = 0;
  for (const auto& path : r["scenarios"][0]["hybrid"]["paths"])
    if (path["after"] == "neither") {
      ++neither;
      EXPECT_TRUE(path["engine"].is_null()) << path.dump();
    } else {
      EXPECT_TRUE(path["engine"].is_string()) << path.dump();
    }
  EXPECT_EQ(neither, 1u);
}

TEST(HybridCheck, AnX64ProtocolOverAnArm64ecBodyIsCaughtByH3AndH2) {
  const HybridCheckResult r = checked("canary-hybrid-x64-over-body.toml");
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings.front().property, Property::kH3);
  const auto h3 = messagesOf(r, Property::kH3), h2 = messagesOf(r, Property::kH2);
  EXPECT_TRUE(mentions(h3, "of x64 code at add+0x0", "Arm64EC code range")) << ::testing::PrintToString(h3);
  EXPECT_TRUE(mentions(h2, "at add-0x5", "add's entry-thunk word")) << ::testing::PrintToString(h2);
}

TEST(HybridCheck, StoreChecksPassTheArm64PlanAndCatchStoresOverOtherEntries) {
  auto inputs = preparedScenario(corpusScenario("patch-hybrid-native.toml"));
  ASSERT_TRUE(inputs);
  EXPECT_TRUE(checkHybridStores(inputs->plan, ArchKind::kArm64, *inputs->base, inputs->layout).empty());
  // The same stores read as x64 code: every one lands in Arm64EC code.
  const auto asX64 = checkHybridStores(inputs->plan, ArchKind::kX64, *inputs->base, inputs->layout);
  ASSERT_FALSE(asX64.empty());
  for (const HybridFinding& f : asX64) EXPECT_EQ(f.property, Property::kH3) << f.message;
  // A store over mul's fast-forward sequence, which no site patches; one over add's (the
  // x64-entry site itself) is the plan's own.
  const PeImage& base = *inputs->base;
  const HybridFunction *add = nullptr, *mul = nullptr;
  for (const HybridFunction& f : base.chpe->functions) {
    if (f.name == "add") add = &f;
    if (f.name == "mul") mul = &f;
  }
  ASSERT_TRUE(add && mul);
  Plan plan;
  plan.steps.push_back(
      StoreStep{.address = base.imageBase + mul->fastForward, .bytes = {0xE9, 0, 0, 0, 0}, .label = "mul"});
  auto found = checkHybridStores(plan, ArchKind::kX64, base, inputs->layout);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].property, Property::kH2);
  EXPECT_NE(found[0].message.find("mul's fast-forward sequence"), std::string::npos) << found[0].message;
  auto x64Entry = preparedScenario(corpusScenario("canary-hybrid-x64-entry.toml"));
  ASSERT_TRUE(x64Entry);
  plan.steps[0] = StoreStep{.address = base.imageBase + add->fastForward, .bytes = {0xE9, 0, 0, 0, 0}, .label = "add"};
  EXPECT_TRUE(checkHybridStores(plan, ArchKind::kX64, base, x64Entry->layout).empty());
  EXPECT_EQ(checkHybridStores(plan, ArchKind::kX64, base, inputs->layout).size(), 1u);  // not its site there
}

TEST(HybridCheck, AnEngineThatKeepsStaleTranslationsIsCaughtByH4) {
  const HybridCheckResult arm64 = checked("canary-hybrid-stale-engine.toml");
  ASSERT_FALSE(arm64.findings.empty());
  EXPECT_EQ(arm64.findings.front().property, Property::kH4);
  EXPECT_TRUE(mentions(messagesOf(arm64, Property::kH4), "the Arm64 engine ran a translation", "add+0x0"));
  // The x64 engine broken the same way, under an x64-entry patch of the hybrid-patchable mul.
  const HybridCheckResult x64 =
      checked("patch-hybrid-patchable.toml", [](Scenario& s) { s.staleEngine = hybrid::StaleEngine::kX64; });
  ASSERT_FALSE(x64.findings.empty());
  EXPECT_EQ(x64.findings.front().property, Property::kH4);
  EXPECT_TRUE(mentions(messagesOf(x64, Property::kH4), "the x64 engine ran a translation", "mul"));
  // Unbroken, neither fires (the safe scenarios above).
  EXPECT_TRUE(messagesOf(checked("patch-hybrid-native.toml"), Property::kH4).empty());
}

TEST(HybridCheck, ACallerWithAnInlinedCopyIsNamedNotHidden) {
  const HybridCheckResult r = checked("canary-hybrid-inlined.toml");
  const auto h1 = messagesOf(r, Property::kH1);
  ASSERT_EQ(h1.size(), 1u) << ::testing::PrintToString(h1);
  EXPECT_NE(h1[0].find("declared caller sum_squares"), std::string::npos) << h1[0];
  EXPECT_NE(h1[0].find("inlined"), std::string::npos) << h1[0];
  // A caller that really calls the function follows the patch.
  const HybridCheckResult scaled =
      checked("patch-hybrid-native.toml", [](Scenario& s) { s.functions[0].callers = {"scaled", "apply_add"}; });
  EXPECT_TRUE(scaled.findings.empty()) << scaled.findings.front().message;
  EXPECT_EQ(scaled.run.after.size(), 8u);
}

TEST(HybridCheck, APassSaysWhatItCoversAndARefusalMayBeExpected) {
  const CommandResult holds = runHph({"check", corpusScenario("patch-hybrid-native.toml")});
  EXPECT_EQ(holds.exitCode, 0) << holds.out << holds.err;
  EXPECT_NE(holds.out.find("holds (H1, H2, H3, H4)"), std::string::npos) << holds.out;
  EXPECT_NE(holds.out.find("not checked: the plan against running threads"), std::string::npos) << holds.out;
  const std::string ignoring =
      scenarioVariant("patch-hybrid-native.toml", {{"\\[protocol\\]", "[check]\nignore = [\"H4\"]\n\n[protocol]"}},
                      "hybrid-ignore.toml");
  const CommandResult partial = runHph({"check", ignoring});
  EXPECT_NE(partial.out.find("holds (H1, H2, H3)"), std::string::npos) << partial.out;
  // padding-short-jmp needs 5 bytes of padding before the x64 entry; lld leaves 2.
  const std::string refused =
      scenarioVariant("patch-hybrid-native.toml",
                      {{"name = \"stop-the-world\"", "name = \"padding-short-jmp\""},
                       {"site = \"native\"", "site = \"x64-entry\"\n\n[check]\nexpect = \"refused\""}},
                      "hybrid-refused.toml");
  const CommandResult r = runHph({"check", refused});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("refused as expected"), std::string::npos) << r.out;
}

TEST(HybridCheck, BadInputIsExitTwoNamingTheField) {
  struct Case {
    std::string scenario;
    std::vector<std::pair<std::string, std::string>> edits;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"patch-hybrid-native.toml", {{"site = \"native\"", "site = \"body\""}}, "[protocol].site"},
      {"patch-padding-short-jmp.x64.toml", {{"\\[protocol\\]", "[protocol]\nsite = \"native\""}}, "[protocol].site"},
      {"patch-hybrid-native.toml", {{"hybrid\\.arm64ec\\.dll", "counter.x64.dll"}}, "arch"},
      {"patch-hybrid-native.toml", {{"hybrid\\.arm64ec\\.dll", "hybridx.arm64x.dll"}}, "arch"},
      {"patch-hybrid-native.toml",
       {{"\\[protocol\\]", "[threads]\ncount = 2\nentry = \"hybrid_worker\"\n\n[protocol]"}},
       "[threads]"},
      {"patch-hybrid-native.toml", {{"target = \"add\"", "target = \"nothing\""}}, "[[functions]][0].target"},
      {"patch-hybrid-native.toml",
       {{"replacement = \"add_v2\"", "replacement = \"add\""}},
       "[[functions]][0].replacement"},
      {"patch-hybrid-native.toml",
       {{"replacement = \"add_v2\"", "replacement = \"add_v2\"\ncallers = [\"nobody\"]"}},
       "[[functions]][0].callers"},
      {"patch-hybrid-native.toml", {{"hybrid_patch\\.arm64ec\\.dll", "counter_patch.x64.dll"}}, "patch[0]"},
      {"patch-hybrid-native.toml",
       {{"\\[protocol\\]", "[chpe]\ncall_args = [1, -2]\n\n[protocol]"}},
       "[chpe].call_args"},
      {"patch-hybrid-native.toml",
       {{"\\[protocol\\]", "[chpe]\nstale_engine = \"both\"\n\n[protocol]"}},
       "[chpe].stale_engine"},
      {"patch-hybrid-native.toml",
       {{"\\[protocol\\]", "[chpe]\nrestriction = true\n\n[protocol]"}},
       "[chpe].restriction"},
      {"patch-hybrid-native.toml", {{"name = \"stop-the-world\"", "name = \"padding-short-jmp\""}}, "[protocol]"},
      {"patch-hybrid-native.toml", {{"patch = .*\n", ""}}, "patch"},
      {"patch-hybrid-native.toml",
       {{"\\[protocol\\]", "[check]\nexpect = \"violation:C1\"\n\n[protocol]"}},
       "[check].expect"},
      {"patch-hybrid-native.toml", {{"\\[protocol\\]", "[check]\nignore = [\"X2\"]\n\n[protocol]"}}, "[check].ignore"},
      {"patch-padding-short-jmp.x64.toml", {{"\\[check\\]", "[check]\nignore = [\"H1\"]"}}, "[check].ignore"},
      {"patch-hybrid-native.toml",
       {{"\\[protocol\\]", "[onhost]\ncalls = \"add\"\nnew_calls = \"add\"\n\n[protocol]"}},
       "[onhost]"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const std::string path = scenarioVariant(c.scenario, c.edits, fmt::format("hybrid-bad-{}.toml", i));
    const CommandResult r = runHph({"check", path});
    EXPECT_EQ(r.exitCode, 2) << c.field << "\n" << r.out << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.field << "\n" << r.err;
    EXPECT_NE(r.err.find(path + ": "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.field), std::string::npos) << c.field << "\n" << r.err;
  }
}

}  // namespace
}  // namespace hph::test

namespace hph::test {
namespace {

// An Arm64EC code-map range that runs across two sections, with a BL to the function and
// an ADRP+ADD of its address in the second: both scans read every section of the range,
// not only the one the range starts in.
TEST(EntryPaths, CallersInTheSecondSectionOfACodeMapRangeAreFound) {
  PeImage image;
  image.file.assign(0x400, 0);
  image.sections = {{".text", 0x1000, 0x100, 0x200, 0x100, 0x60000020},
                    {".text2", 0x1100, 0x100, 0x300, 0x100, 0x60000020}};
  const auto put = [&](uint32_t rva, uint32_t word) {
    const SectionInfo* s = image.sectionAt(rva);
    std::memcpy(image.file.data() + s->rawOffset + (rva - s->virtualAddress), &word, 4);
  };
  put(0x1180, 0x97FFFFA0);  // bl 0x1000
  put(0x1190, 0x90000000);  // adrp x0, 0x1000
  put(0x1194, 0x91000000);  // add x0, x0, #0
  ChpeInfo chpe;
  chpe.codeMap = {{0x1000, 0x200, ChpeRange::Kind::kArm64ec}};
  HybridFunction f{.name = "f", .body = 0x1000, .bodyEnd = 0x1010, .fastForward = 0x1020};
  chpe.functions = {f};
  image.chpe = chpe;

  const std::vector<EntryPath> paths = entryPaths(image, 0x180000000, f);
  std::map<EntryPathKind, std::string> callers;
  for (const EntryPath& p : paths) callers[p.kind] = p.callers;
  EXPECT_EQ(callers[EntryPathKind::kEcDirect], "rva 0x1180");
  ASSERT_TRUE(callers.count(EntryPathKind::kEcIndirectToBody));
  EXPECT_EQ(callers[EntryPathKind::kEcIndirectToBody], "rva 0x1190");
}

}  // namespace
}  // namespace hph::test

namespace hph::test {
namespace {

// Every exported Arm64EC function's entry-thunk word is found (the corpus image), and so
// is the word of a function no export names, reached by a BL: H2 guards both. A word
// that is another function's last instruction, one naming no Arm64EC code, and one inside
// a function's unwind range are not entry-thunk words.
TEST(EntryThunkWords, AreFoundForExportedAndUnexportedFunctionsAlike) {
  auto corpus = readPeImage(corpusImage("hybrid.arm64ec.dll"));
  ASSERT_TRUE(corpus) << corpus.error().message;
  ASSERT_TRUE(corpus->chpe);
  const ChpeInfo& chpeOfCorpus = *corpus->chpe;
  ASSERT_FALSE(chpeOfCorpus.functions.empty());
  for (const HybridFunction& f : chpeOfCorpus.functions)
    EXPECT_NE(std::find(chpeOfCorpus.entryThunkWords.begin(), chpeOfCorpus.entryThunkWords.end(),
                        std::pair{f.body, f.entryThunk}),
              chpeOfCorpus.entryThunkWords.end())
        << f.name;

  PeImage image;
  image.imageBase = 0x180000000;
  image.file.assign(0x400, 0);
  image.sections = {{".text", 0x1000, 0x200, 0x200, 0x200, 0x60000020}};
  const auto put = [&](uint32_t rva, uint32_t word) {
    std::memcpy(image.file.data() + 0x200 + (rva - 0x1000), &word, 4);
  };
  put(0x1000, 0x94000040);  // bl 0x1100: a function no export names
  put(0x10FC, 0x81);        // its word: the thunk at 0x1180, low bit set
  put(0x1004, 0x9400004F);  // bl 0x1140
  put(0x113C, 0xD65F03C0);  // ret: the end of the code before it, not a word
  put(0x1008, 0x94000056);  // bl 0x1160
  put(0x115C, 0x14000001);  // b .+4: low bit set, but it names no Arm64EC code
  put(0x100C, 0x9400005D);  // bl 0x1180
  put(0x117C, 0x00000011);  // inside the unwind range given below
  ChpeInfo chpe;
  chpe.codeMap = {{0x1000, 0x200, ChpeRange::Kind::kArm64ec}};
  image.chpe = chpe;
  const std::vector<pe::UnwindEntry> unwind = {{.begin = 0x1170, .end = 0x1180}};
  const auto words = pe::findEntryThunkWords(image, *image.chpe, unwind);
  EXPECT_EQ(words, (std::vector<std::pair<uint32_t, uint32_t>>{{0x1100, 0x1180}}));

  // H2: a store over that word, not one beside it.
  image.chpe->entryThunkWords = words;
  const PatchLayout layout;
  for (const auto& [at, size, fires] : {std::tuple{0x10FCu, 4u, true}, {0x10F8u, 8u, true}, {0x1100u, 8u, false}}) {
    Plan plan;
    plan.steps.push_back(StoreStep{image.imageBase + at, std::vector<uint8_t>(size, 0x1F), "f+0x0"});
    const std::vector<HybridFinding> findings = checkHybridStores(plan, ArchKind::kArm64, image, layout);
    const bool h2 = std::any_of(findings.begin(), findings.end(), [](const HybridFinding& f) {
      return f.property == Property::kH2 && f.message.find("Arm64EC function at rva 0x1100") != std::string::npos;
    });
    EXPECT_EQ(h2, fires) << fmt::format("store of {} at rva {:#x}", size, at);
  }
}

}  // namespace
}  // namespace hph::test
