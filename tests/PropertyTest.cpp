// Every property checker fires on a deliberately broken patch and stays quiet on the safe
// ones. Data-driven (as Zydis' golden tests): each case is a corpus scenario with edits
// (a defect, a target, static pre-checks off, properties ignored so another one shows)
// and the verdict `hph check` must reach, found dynamically as a replayable counterexample.
#include <gtest/gtest.h>

#include <cstring>
#include <regex>

#include "harness/explore/HappensBefore.h"
#include "harness/explore/Session.h"
#include "properties/CodeState.h"

#include "tests/TestSupport.h"

namespace hph::test {
namespace {

struct PropertyCase {
  const char* name;
  const char* scenario;
  std::vector<std::pair<std::string, std::string>> edits;
  const char* verdict;  // what `hph check` finds: holds | violation:X | refused
};

void PrintTo(const PropertyCase& c, std::ostream* os) { *os << c.name; }

using Edit = std::pair<std::string, std::string>;
Edit defect(const std::string& protocol, const std::string& name) {
  return {"\\[protocol\\]\nname = \"" + protocol + "\"",
          "[protocol]\nname = \"" + protocol + "\"\ndefect = \"" + name + "\""};
}
Edit reverse(const std::string& protocol) {
  return {"\\[protocol\\]\nname = \"" + protocol + "\"", "[protocol]\nname = \"" + protocol + "\"\nreverse = true"};
}
Edit check(const std::string& lines) { return {"\\[check\\]", "[check]\n" + lines}; }
Edit arm64(const std::string& lines) { return {"\\[threads\\]", "[arm64]\n" + lines + "\n\n[threads]"}; }
Edit noExpect() { return {"expect = \"[^\"]*\"\n", ""}; }
// bump_keyed (a 10-byte first instruction on x64, no entry NOP on Arm64) instead of bump.
std::vector<Edit> keyed() {
  return {{"target = \"bump\"", "target = \"bump_keyed\""},
          {"replacement = \"bump_v2\"", "replacement = \"bump_keyed_v2\""},
          {"entry = \"patch_worker\"", "entry = \"keyed_patch_worker\""},
          {"invariant = \"verify\"", "invariant = \"keyed_verify\""}};
}
std::vector<Edit> with(std::vector<Edit> a, const std::vector<Edit>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
// basics.plain (no hotpatch padding, 1-byte first instructions) with threads running sum8.
std::vector<Edit> plain(const std::string& target) {
  return {{"counter\\.x64\\.dll", "basics.plain.x64.dll"},  {"target = \"bump\"", "target = \"" + target + "\""},
          {"entry = \"patch_worker\"", "entry = \"sum8\""}, {"invariant = \"verify\"\n", ""},
          {"counter_patch\\.x64\\.dll", "basics.x64.dll"},  {"replacement = \"bump_v2\"", "replacement = \"mix64\""}};
}

const std::vector<PropertyCase>& cases() {
  static const std::vector<PropertyCase> all = {
      // x64 fetch and store rules.
      {"X2_naive_jmp5", "patch-naive-jmp5.x64.toml", {noExpect()}, "violation:X2"},
      {"C2_naive_jmp5", "patch-naive-jmp5.x64.toml", {noExpect(), check("ignore = [\"X2\"]")}, "violation:C2"},
      {"C1_naive_jmp5", "patch-naive-jmp5.x64.toml", {noExpect(), check("ignore = [\"X2\", \"C2\"]")}, "violation:C1"},
      {"C4_naive_jmp5_one_instruction", "patch-naive-jmp5.x64.toml",
       with({noExpect(), check("ignore = [\"X2\"]")}, keyed()), "violation:C4"},
      {"X1_int3_without_sync", "patch-int3-3step.x64.toml", {defect("int3-3step", "no-sync")}, "violation:X1"},
      {"X3_int3_resumes_inside", "patch-int3-3step.x64.toml", {defect("int3-3step", "resume-inside")}, "violation:X3"},
      {"padding_over_1_byte_instruction_refused", "patch-padding-short-jmp.x64.toml", plain("fib_rec"), "refused"},
      {"X2_padding_over_1_byte_instruction", "patch-padding-short-jmp.x64.toml",
       with(plain("fib_rec"), {check("static_checks = false")}), "violation:X2"},
      {"no_padding_refused", "patch-padding-short-jmp.x64.toml", plain("popcount_loop"), "refused"},
      {"C1_no_padding", "patch-padding-short-jmp.x64.toml",
       with(plain("popcount_loop"), {check("static_checks = false")}), "violation:C1"},
      // Stop-the-world, trampolines, reuse.
      {"C3_no_move_pc", "patch-stop-the-world.x64.toml", {defect("stop-the-world", "no-move-pc")}, "violation:C3"},
      {"wrong_rip_fixup",
       "patch-stop-the-world.x64.toml",
       {defect("stop-the-world", "wrong-rip-fixup")},
       "violation:invariant"},
      {"C7_trampoline_freed_x64",
       "patch-stop-the-world.x64.toml",
       {reverse("stop-the-world"), {"reverse = true", "reverse = true\ndefect = \"no-release\""}},
       "violation:C7"},
      {"C7_trampoline_freed_arm64",
       "patch-stop-the-world.arm64.toml",
       {reverse("stop-the-world"), {"reverse = true", "reverse = true\ndefect = \"no-release\""}},
       "violation:C7"},
      // Calls.
      {"C6_stub_clobbers_rcx",
       "patch-padding-short-jmp.x64.toml",
       {defect("padding-short-jmp", "stub-clobbers-rcx")},
       "violation:C6"},
      {"C6_veneer_clobbers_x0", "patch-veneer.arm64.toml", {defect("veneer", "veneer-clobbers-x0")}, "violation:C6"},
      {"C8_no_short_jmp",
       "patch-padding-short-jmp.x64.toml",
       {defect("padding-short-jmp", "no-short-jmp")},
       "violation:C8"},
      {"C8_b_direct_without_sync", "patch-b-direct.arm64.toml", {defect("b-direct", "no-sync")}, "violation:C8"},
      {"C5_stricter_fetch_model", "patch-b-direct.arm64.toml", {arm64("fetch_coherent = false")}, "violation:C5"},
      {"C5_call_neither_old_nor_new", "canary-impure-call.x64.toml", {noExpect()}, "violation:C5"},
      {"holds_pure_calls_old_or_new", "patch-pure.x64.toml", {}, "holds"},
      // Arm64 store rules and the fetch model.
      {"A1_b_direct_over_non_cmodx", "patch-b-direct.arm64.toml", keyed(), "violation:A1"},
      {"A2_branch_before_veneer",
       "patch-veneer.arm64.toml",
       {defect("veneer", "branch-before-veneer")},
       "violation:A2"},
      {"A2_veneer_not_made_visible",
       "patch-veneer.arm64.toml",
       {defect("veneer", "no-veneer-maintenance")},
       "violation:A2"},
      {"A3_stale_veneer_fetched",
       "patch-veneer.arm64.toml",
       {defect("veneer", "no-veneer-maintenance"), check("ignore = [\"A2\"]")},
       "violation:A3"},
      {"A3_needs_the_fetch_model",
       "patch-veneer.arm64.toml",
       {defect("veneer", "no-veneer-maintenance"), check("ignore = [\"A2\"]"), arm64("fetch_model = false")},
       "holds"},
      {"A4_literal_in_halves",
       "patch-literal-swap.arm64.toml",
       {defect("literal-swap", "literal-in-halves")},
       "violation:A4"},
      // The same protocols without defects: nothing fires (also unpatching).
      {"holds_padding_short_jmp_reverse", "patch-padding-short-jmp.x64.toml", {reverse("padding-short-jmp")}, "holds"},
      {"holds_stop_the_world_reverse", "patch-stop-the-world.arm64.toml", {reverse("stop-the-world")}, "holds"},
      {"holds_veneer_reverse", "patch-veneer.arm64.toml", {reverse("veneer")}, "holds"},
      {"holds_b_direct_dic", "patch-b-direct.arm64.toml", {arm64("dic = true\nidc = true")}, "holds"},
      // Vacuity: the threads never call the patched function, and no step lands while
      // one is near it: "holds" would mean nothing.
      {"vacuous_patch_never_called",
       "patch-padding-short-jmp.x64.toml",
       {{"entry = \"patch_worker\"", "entry = \"keyed_patch_worker\""},
        {"invariant = \"verify\"", "invariant = \"keyed_verify\""}},
       "vacuous"},
  };
  return all;
}

class Property : public ::testing::TestWithParam<PropertyCase> {};

TEST_P(Property, CheckFindsTheExpectedVerdict) {
  const PropertyCase& c = GetParam();
  std::vector<Edit> edits = c.edits;
  // Two threads keep every case quick; bound 2 as the release gate uses.
  edits.push_back({"count = 3", "count = 2"});
  const std::string path = scenarioVariant(c.scenario, edits, std::string(c.name) + ".toml");
  const CommandResult r = runHph({"check", path, "--jobs", "1"});
  const std::string verdict = c.verdict;
  if (verdict == "holds") {
    EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
    EXPECT_NE(r.out.find(": holds"), std::string::npos) << r.out;
    return;
  }
  if (verdict == "refused") {
    EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("[protocol]: function"), std::string::npos) << r.err;
    return;
  }
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_NE(r.out.find(": " + verdict + " (expected holds)"), std::string::npos) << r.out;
  if (verdict == "vacuous") {
    EXPECT_NE(r.out.find("0 patch steps landed with a thread inside a watched window; 0 calls"), std::string::npos);
    return;
  }
  // Named: the property, and a replayable counterexample that reproduces it.
  std::smatch token;
  ASSERT_TRUE(std::regex_search(r.out, token, std::regex("hph replay (hph2\\.[A-Za-z0-9_-]+)"))) << r.out;
  const CommandResult replay = runHph({"replay", token[1]});
  EXPECT_EQ(replay.exitCode, 1) << replay.out << replay.err;
  EXPECT_NE(replay.out.find(verdict.substr(std::string("violation:").size())), std::string::npos) << replay.out;
}

INSTANTIATE_TEST_SUITE_P(Checkers, Property, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// C8 judges a call by when it begins, and it begins when its thread runs the entry, not
// when the thread arrives before it: the search orders that fetch against the plan's last
// step, and an arrival against nothing. One thread whose only call is its start at
// `bump`, under padding-short-jmp without its short jmp (so a call the plan's last step
// preceded runs old code).
class PatcherAtEntry final : public DecisionSource {
 public:
  PatcherAtEntry(uint64_t entry, bool beforeEntryRuns) : entry_(entry), beforeEntryRuns_(beforeEntryRuns) {}
  ActorId choose(const SchedulingPoint& point) override {
    const bool patcherEnabled = std::find(point.enabled.begin(), point.enabled.end(), kPatcher) != point.enabled.end();
    if (point.kind == PointKind::kInstruction && point.current == 0 && patcherEnabled) {
      // Stopped before the entry, or before the instruction after it.
      if (point.pc == entry_ ? beforeEntryRuns_ : (sawEntry_ && !beforeEntryRuns_)) return kPatcher;
      sawEntry_ = sawEntry_ || point.pc == entry_;
    }
    return defaultChoice(point);
  }
  bool wantsFootprints() const override { return true; }
  void transitionDone(Footprint& footprint) override { transitions.push_back(footprint); }

  std::vector<Footprint> transitions;

 private:
  uint64_t entry_;
  bool beforeEntryRuns_;
  bool sawEntry_ = false;
};

TEST(C8, ACallBeginsWhenItsEntryRunsNotWhenItsThreadArrivesThere) {
  const std::string path = scenarioVariant("patch-padding-short-jmp.x64.toml",
                                           {defect("padding-short-jmp", "no-short-jmp")}, "c8-call-begins.toml");
  auto inputs = preparedScenario(path, [](Scenario& s) {
    s.threadCount = 1;
    s.threadEntry = "bump";
    s.invariant.reset();
    s.explore.points = PointsMode::kWatched;  // a point before the entry, where nothing stores
  });
  ASSERT_TRUE(inputs);
  auto session = Session::create(inputs, true);
  ASSERT_TRUE(session.ok());
  const uint64_t entry = inputs->layout.sites.at(0).entry;
  // Arrived at the entry, then the whole plan, then the entry runs: a call after the plan.
  PatcherAtEntry planWhileStopped(entry, true);
  const RunRecord after = (*session)->run(planWhileStopped);
  ASSERT_FALSE(after.error);
  ASSERT_TRUE(after.violation);
  EXPECT_EQ(after.violation->property, hph::Property::kC8) << after.violation->message;
  // The entry ran before the plan: the call began before it, and its old code is right.
  PatcherAtEntry planAfterEntry(entry, false);
  const RunRecord before = (*session)->run(planAfterEntry);
  ASSERT_FALSE(before.error);
  EXPECT_FALSE(before.violation) << before.violation->message;
  // So the search must order the transition that ran the entry against the plan's last
  // step (the plan stores nothing there), and need not order the one that arrived there.
  const auto covers = [&](const std::vector<AddressRange>& ranges) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const AddressRange& r) { return r.begin <= entry && entry < r.end; });
  };
  const auto& t = planAfterEntry.transitions;
  const auto lastStep = std::find_if(t.rbegin(), t.rend(), [](const Footprint& f) { return f.actor == kPatcher; });
  const auto arrival =
      std::find_if(t.begin(), t.end(), [&](const Footprint& f) { return f.actor == 0 && covers(f.arrived); });
  const auto run =
      std::find_if(t.begin(), t.end(), [&](const Footprint& f) { return f.actor == 0 && covers(f.fetched); });
  ASSERT_TRUE(lastStep != t.rend() && arrival != t.end() && run != t.end());
  // As the search sees them: does the last step race with the transition before it?
  const auto races = [&](const Footprint& thread) {
    HappensBefore order;
    std::vector<size_t> found;
    order.append(0, thread, found);
    order.append(kPatcher, *lastStep, found);
    return !found.empty();
  };
  EXPECT_TRUE(races(*run));
  EXPECT_FALSE(races(*arrival));
}

// Arm64 fetch model: a thread starts context-synchronised, so which of the plan's stores
// it may still fetch stale depends on which steps came before its start. Its start must
// be ordered against the patcher's steps, as a fetch is: here its first transition ends
// with an arrival only (at bump's entry, before any fetch of the plan's code), and it
// must race with the first patcher step that follows it.
class ThreadFirstThenPlan final : public DecisionSource {
 public:
  ActorId choose(const SchedulingPoint& point) override {
    const bool patcherEnabled = std::find(point.enabled.begin(), point.enabled.end(), kPatcher) != point.enabled.end();
    return point.kind == PointKind::kInstruction && patcherEnabled ? kPatcher : defaultChoice(point);
  }
  bool wantsFootprints() const override { return true; }
  void transitionDone(Footprint& footprint) override { transitions.push_back(footprint); }
  std::vector<Footprint> transitions;
};

TEST(FetchModel, AThreadsStartIsOrderedAgainstThePlansSteps) {
  auto inputs = preparedScenario(corpusScenario("patch-b-direct.arm64.toml"), [](Scenario& s) { s.threadCount = 1; });
  ASSERT_TRUE(inputs);
  auto session = Session::create(inputs, true);
  ASSERT_TRUE(session.ok());
  ThreadFirstThenPlan source;
  const RunRecord run = (*session)->run(source);
  ASSERT_FALSE(run.error);
  const auto& t = source.transitions;
  const auto start = std::find_if(t.begin(), t.end(), [](const Footprint& f) { return f.actor == 0; });
  const auto step = std::find_if(start, t.end(), [](const Footprint& f) { return f.actor == kPatcher; });
  ASSERT_TRUE(start != t.end() && step != t.end());
  EXPECT_TRUE(start->fetched.empty());  // it only arrived
  HappensBefore order;
  std::vector<size_t> races;
  order.append(0, *start, races);
  order.append(kPatcher, *step, races);
  EXPECT_FALSE(races.empty());
}

// The Arm64 fetch model's visibility rule with CTR_EL0's bits: a stored word stays
// pending until maintenance did what the core needs (DC CVAU unless IDC, IC IVAU unless
// DIC); with DIC it is visible at the store.
TEST(FetchModel, VisibilityFollowsCtrEl0) {
  PatchSite site;
  site.name = "f";
  site.entry = 0x1000;
  site.code = std::vector<uint8_t>(16, 0);
  for (size_t i = 0; i < 16; i += 4) std::memcpy(&site.code[i], "\x1f\x20\x03\xd5", 4);  // nop
  site.before = std::vector<uint8_t>(16, 0);
  site.scratch = 0x9000;
  const std::vector<uint8_t> branch{0x04, 0x00, 0x00, 0x14};  // b +16
  auto storeBranch = [&](CodeState& code) {
    code.setStep(0);
    code.beginStore(0, site.entry, 4);
    code.writePiece(site.entry, branch);
    code.endStore();
    code.setStep(1);
  };
  for (const auto& [idc, dic] : {std::pair{false, false}, std::pair{true, false}, std::pair{false, true}}) {
    CodeState code(arm64Arch(), {site}, idc, dic);
    storeBranch(code);
    ASSERT_NE(code.versions(site.entry), nullptr);
    EXPECT_EQ(code.versions(site.entry)->size(), 2u) << "the original and the branch";
    EXPECT_EQ(code.pending(site.entry, 4), !dic) << idc << dic;
    code.cacheMaintenance(site.entry, 4, /*cleanData=*/false, /*invalidateInstructions=*/true);
    EXPECT_EQ(code.pending(site.entry, 4), !idc && !dic) << "IC IVAU alone is enough only with IDC";
    code.cacheMaintenance(site.entry, 4, true, true);
    EXPECT_FALSE(code.pending(site.entry, 4));
  }
  // Plans for cores with both bits set keep only the barrier.
  const std::string path = scenarioVariant("patch-b-direct.arm64.toml", {arm64("idc = true\ndic = true")}, "ctr.toml");
  const CommandResult plan = runHph({"plan", path});
  EXPECT_NE(plan.out.find("cache maintenance (dsb ish) over"), std::string::npos) << plan.out;
  const CommandResult full = runHph({"plan", corpusScenario("patch-b-direct.arm64.toml")});
  EXPECT_NE(full.out.find("cache maintenance (dc cvau, dsb ish, ic ivau, dsb ish) over"), std::string::npos)
      << full.out;
}

}  // namespace
}  // namespace hph::test
