// Plans: golden step lists per protocol, refusals, reverse plans restoring the original
// bytes exactly, the int3 handler, and a patch that actually takes effect.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "harness/explore/RandomStrategy.h"
#include "harness/explore/ReplaySource.h"
#include "harness/explore/Session.h"
#include "patch/LiveCode.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

using nlohmann::json;

std::string scenario(const std::string& name) { return corpusScenario(name); }
std::string variant(const std::string& name, const std::vector<std::pair<std::string, std::string>>& edits) {
  return scenarioVariant(name, edits);
}

// "store:5:live" style summary of a plan: kinds, store widths and liveness.
std::vector<std::string> planShape(const std::string& path) {
  const CommandResult r = runHph({"plan", path, "--json"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  std::vector<std::string> shape;
  const json plan = json::parse(r.out);
  for (const json& step : plan["steps"]) {
    std::string s = step["kind"];
    if (s == "store")
      s += ":" + std::to_string(step["width"].get<int>()) + (step["data"].get<bool>() ? ":data" : "") +
           (step["live"].get<bool>() ? ":live" : ":dead");
    shape.push_back(s);
  }
  return shape;
}

TEST(Plan, GoldenStepListsPerProtocol) {
  // Liveness comes from the analysis (patch/LiveCode): padding and scratch nothing jumps
  // into yet are dead, stores while every thread is suspended are dead.
  const std::map<std::string, std::vector<std::string>> golden = {
      {"patch-naive-jmp5.x64.toml", {"store:5:live"}},
      {"patch-padding-short-jmp.x64.toml", {"store:16:dead", "store:5:dead", "store:2:live"}},
      {"patch-int3-3step.x64.toml",
       {"store:1:live", "sync-all", "store:4:live", "sync-all", "store:1:live", "sync-all"}},
      {"patch-stop-the-world.x64.toml", {"store:17:dead", "suspend-all", "move-pc", "store:5:dead", "resume-all"}},
      {"patch-b-direct.arm64.toml", {"store:4:live", "cache-maintenance", "sync-all"}},
      {"patch-veneer.arm64.toml",
       {"store:16:dead", "cache-maintenance", "store:4:live", "cache-maintenance", "sync-all"}},
      {"patch-literal-swap.arm64.toml",
       {"store:8:dead", "store:8:data:dead", "store:8:dead", "cache-maintenance", "store:4:live", "cache-maintenance",
        "sync-all", "store:8:data:live"}},
      {"patch-stop-the-world.arm64.toml",
       {"store:8:dead", "cache-maintenance", "suspend-all", "move-pc", "store:4:dead", "cache-maintenance", "sync-all",
        "resume-all"}},
      // A cumulative series: the second patch only retargets what the first set up.
      {"patch-series.x64.toml",
       {"store:16:dead", "store:5:dead", "store:2:live", "store:16:dead", "store:5:dead", "store:2:live",
        "store:8:data:live"}},
      {"patch-series.arm64.toml",
       {"store:8:dead",      "cache-maintenance", "suspend-all",  "move-pc",           "store:4:dead",
        "cache-maintenance", "sync-all",          "resume-all",   "store:8:dead",      "cache-maintenance",
        "suspend-all",       "move-pc",           "store:4:dead", "cache-maintenance", "sync-all",
        "resume-all",        "suspend-all",       "store:4:dead", "cache-maintenance", "sync-all",
        "resume-all"}},
  };
  for (const auto& [file, expected] : golden) EXPECT_EQ(planShape(scenario(file)), expected) << file;
}

TEST(Plan, GoldenReverseStepLists) {
  // Unpatching: the padding and stub come back only after every thread left them.
  const std::map<std::string, std::vector<std::string>> golden = {
      {"patch-padding-short-jmp.x64.toml",
       {"store:16:dead", "store:5:dead", "store:2:live", "store:2:live", "release", "release", "store:5:dead"}},
      {"patch-veneer.arm64.toml",
       {"store:16:dead", "cache-maintenance", "store:4:live", "cache-maintenance", "sync-all", "store:4:live",
        "cache-maintenance", "sync-all", "release", "store:16:dead", "cache-maintenance"}},
      {"patch-literal-swap.arm64.toml",
       {"store:8:dead", "store:8:data:dead", "store:8:dead", "cache-maintenance", "store:4:live", "cache-maintenance",
        "sync-all", "store:8:data:live", "store:8:data:live"}},
  };
  for (const auto& [file, expected] : golden)
    EXPECT_EQ(planShape(variant(
                  file, {{"\\[protocol\\]\nname = \"([a-z0-9-]+)\"", "[protocol]\nname = \"$1\"\nreverse = true"}})),
              expected)
        << file;
}

// Without the release steps the padding restore would be live: the analysis sees that a
// thread may still be on the padding jump.
TEST(Plan, LivenessFollowsReachableCodeAndReleases) {
  const Arch& arch = x64Arch();
  // 5 bytes of int3 padding, then `mov rax, rcx; ret` at 0x1005.
  const std::vector<uint8_t> code{0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0x48, 0x89, 0xC8, 0xC3};
  const std::vector<uint8_t> jump{0xE9, 0x00, 0x00, 0x00, 0x00};
  Plan plan;
  plan.steps.push_back(StoreStep{.address = 0x1000, .bytes = jump, .label = "padding"});
  plan.steps.push_back(StoreStep{.address = 0x1005, .bytes = {0xEB, 0xF9}, .label = "entry"});
  plan.steps.push_back(StoreStep{.address = 0x1005, .bytes = {0x48, 0x89}, .label = "entry restored"});
  plan.steps.push_back(
      StoreStep{.address = 0x1000, .bytes = {0xCC, 0xCC, 0xCC, 0xCC, 0xCC}, .label = "padding restored"});
  analyzeLiveness(arch, {{0x1000, code}}, {0x1005}, plan);
  auto live = [&](size_t i) { return std::get<StoreStep>(plan.steps[i]).live; };
  EXPECT_FALSE(live(0)) << "padding nothing jumps into";
  EXPECT_TRUE(live(1)) << "the entry instruction";
  EXPECT_TRUE(live(2));
  EXPECT_TRUE(live(3)) << "a thread that took eb f9 may still be on the padding jump";
  plan.steps.insert(plan.steps.begin() + 3, ReleaseStep{.address = 0x1000, .size = 5, .label = "padding"});
  analyzeLiveness(arch, {{0x1000, code}}, {0x1005}, plan);
  EXPECT_FALSE(live(4)) << "after the release nothing is on the padding";
  // Suspended threads fetch nothing.
  Plan suspended;
  suspended.steps = {SuspendAllStep{}, StoreStep{.address = 0x1005, .bytes = jump, .label = "entry"}, ResumeAllStep{}};
  analyzeLiveness(arch, {{0x1000, code}}, {0x1005}, suspended);
  EXPECT_FALSE(std::get<StoreStep>(suspended.steps[1]).live);
}

TEST(Plan, StoresLandWhereTheProtocolSays) {
  const json plan = json::parse(runHph({"plan", scenario("patch-padding-short-jmp.x64.toml"), "--json"}).out);
  const uint64_t entry = plan["sites"][0]["entry"];
  const uint64_t table = plan["sites"][0]["scratch"];
  // The address table past the base image's end: jmp [rip+2] to an aligned slot that
  // holds the replacement.
  EXPECT_EQ(plan["steps"][0]["address"], table);
  EXPECT_GE(table, plan["hotpatch_area"].get<uint64_t>());
  const std::string stub = plan["steps"][0]["bytes"];
  EXPECT_EQ(stub.substr(0, 12), "ff2502000000");
  uint64_t slot = 0;
  for (int i = 7; i >= 0; --i) slot = slot << 8 | std::stoul(stub.substr(16 + 2 * i, 2), nullptr, 16);
  EXPECT_EQ(slot, plan["sites"][0]["replacement"].get<uint64_t>());
  EXPECT_EQ(plan["steps"][1]["address"], entry - 5);
  EXPECT_EQ(plan["steps"][2]["address"], entry);
  EXPECT_EQ(plan["steps"][2]["bytes"], "ebf9");
  // e9 rel32 from entry-5 reaches the table.
  const std::string jmp = plan["steps"][1]["bytes"];
  ASSERT_EQ(jmp.substr(0, 2), "e9");
  uint32_t rel = std::stoul(jmp.substr(8, 2) + jmp.substr(6, 2) + jmp.substr(4, 2) + jmp.substr(2, 2), nullptr, 16);
  EXPECT_EQ(entry + static_cast<int32_t>(rel), table);
}

TEST(Plan, RefusalsAreExitCode2NamingTheFunction) {
  struct Case {
    std::string file;
    std::vector<std::pair<std::string, std::string>> edits;
    std::string expected;
  };
  const Case cases[] = {
      {"patch-padding-short-jmp.x64.toml",
       {{"counter\\.x64\\.dll", "basics.plain.x64.dll"},
        {"target = \"bump\"", "target = \"fib_rec\""},
        {"entry = \"patch_worker\"", "entry = \"fib_rec\""},
        {"invariant = \"verify\"", "invariant = \"fib_iter\""},
        {"counter_patch\\.x64\\.dll", "basics.x64.dll"},
        {"replacement = \"bump_v2\"", "replacement = \"mix64\""}},
       "function 'fib_rec'"},
      {"patch-int3-3step-refused.x64.toml", {}, "int3-3step replaces one whole instruction of at least 5"},
      {"patch-b-direct.arm64.toml", {{"name = \"b-direct\"", "name = \"padding-short-jmp\""}}, "is not one of arm64"},
      {"patch-b-direct.arm64.toml",
       {{"replacement = \"bump_v2\"", "replacement = \"bump_v3\""}},
       "[[functions]][0].replacement: 'bump_v3'"},
      {"patch-veneer.arm64.toml",
       {{"\\[threads\\]", "[[host_write]]\ntarget = \"bump\"\nbytes = \"1f2003d5\"\n[threads]"}},
       "patch or [[host_write]] stores, not both"},
      // New keys: each bad value names its field.
      {"patch-veneer.arm64.toml",
       {{"name = \"veneer\"", "name = \"veneer\"\ndefect = \"typo\""}},
       "[protocol]: defect 'typo' is not one of veneer's (branch-before-veneer"},
      {"patch-veneer.arm64.toml",
       {{"\\[check\\]", "[check]\nignore = [\"C9\"]"}},
       "[check].ignore: 'C9' is not a property"},
      {"patch-veneer.arm64.toml",
       {{"(patch = )", "patch_address = \"0x1234\"\n$1"}},
       "patch_address: expected a nonzero hex address"},
      {"patch-padding-short-jmp.x64.toml",
       {{"\\[threads\\]", "[arm64]\ndic = true\n\n[threads]"}},
       "[arm64]: only for arch = \"arm64\""},
      {"patch-series.x64.toml", {{"patch = \\[[^\\]]*\\]", "patch = []"}}, "patch: an empty series"},
      {"patch-veneer.arm64.toml",
       {{"\\[threads\\]", "[arm64]\nfetch_model = 1\n\n[threads]"}},
       "[arm64].fetch_model: expected true or false"},
  };
  for (const Case& c : cases) {
    const CommandResult r = runHph({"plan", variant(c.file, c.edits)});
    EXPECT_EQ(r.exitCode, 2) << c.expected << ": " << r.out;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << "expected '" << c.expected << "' in " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

std::shared_ptr<const ScenarioInputs> prepared(const std::string& path) { return preparedScenario(path); }

// Forward then reverse, after every thread finished: the base image's bytes are exactly
// the original ones again (and the calls made while patched went to the replacement).
TEST(Plan, ReversePlansRestoreTheOriginalBytesExactly) {
  for (const char* file : {"patch-padding-short-jmp.x64.toml", "patch-int3-3step.x64.toml",
                           "patch-stop-the-world.x64.toml", "patch-b-direct.arm64.toml", "patch-veneer.arm64.toml",
                           "patch-stop-the-world.arm64.toml", "patch-series.x64.toml", "patch-series.arm64.toml"}) {
    auto inputs = prepared(
        variant(file, {{"\\[protocol\\]\nname = \"([a-z0-9-]+)\"", "[protocol]\nname = \"$1\"\nreverse = true"}}));
    ASSERT_TRUE(inputs) << file;
    auto session = Session::create(inputs, false);
    ASSERT_TRUE(session.ok());
    const PeImage& base = *inputs->base;
    const SectionInfo& text = base.sections[0];
    ReplaySource defaults({});
    const RunRecord run = (*session)->run(defaults);
    ASSERT_FALSE(run.violation) << file << ": " << run.violation->message;
    std::vector<uint8_t> now(text.virtualSize);
    ASSERT_TRUE((*session)->machine().readGuest(base.imageBase + text.virtualAddress, now));
    const std::vector<uint8_t> original = base.bytesAt(text.virtualAddress, text.virtualSize);
    EXPECT_EQ(now, original) << file << ": the reverse plan did not restore .text";
  }
}

TEST(Plan, ThreadsAtTheTransientInt3ContinueInTheReplacement) {
  auto inputs = prepared(scenario("patch-int3-3step.x64.toml"));
  auto session = Session::create(inputs, false);
  ASSERT_TRUE(session.ok());
  // The patcher writes the int3 first; then thread 0 runs to completion while the int3 is
  // all there is: every call it makes traps and continues in bump_keyed_v2.
  ReplaySource schedule({{0, kPatcher}, {1, 0}});
  const RunRecord run = (*session)->run(schedule);
  ASSERT_FALSE(run.violation) << run.violation->message;
  EXPECT_EQ(run.invariantValue, 1u);
  const uint64_t v2Calls =
      inputs->layout.patches[0].loadAddress + inputs->layout.patches[0].image->findFunction("v2_calls")->begin;
  auto calls = (*session)->machine().call(v2Calls, {});
  ASSERT_TRUE(calls.ok() && calls->completed());
  EXPECT_GE(calls->value, kPatchWorkerCalls) << "thread 0's calls went through the int3 to the replacement";
}

TEST(Plan, PatchedCallsReachTheReplacementThroughRefCells) {
  // The patch applied first: every call is new, and the base's counter (reached through
  // the __ref_g_counter cell) holds every increment.
  for (const char* file :
       {"patch-padding-short-jmp.x64.toml", "patch-veneer.arm64.toml", "patch-literal-swap.arm64.toml"}) {
    uint64_t invariant = 0;
    EXPECT_EQ(callAfterPatching(scenario(file), 0, "v2_calls", &invariant), 3u * kPatchWorkerCalls)
        << file << ": 3 threads x 2 calls, all new";
    EXPECT_EQ(invariant, 1u) << file;
  }
}

// stop-the-world over call_first: a thread inside spin() holds a return address inside
// the span. Random schedules show both ends: a retry after which the patch commits once
// the thread returned, and a patcher that runs out of retries (refused).
TEST(Plan, StopTheWorldRetriesOnReturnAddressesInsideTheSpanThenGivesUp) {
  auto inputs = prepared(scenario("patch-stop-the-world-retry.x64.toml"));
  auto session = Session::create(inputs, false);
  ASSERT_TRUE(session.ok());
  bool committedAfterRetry = false, refused = false;
  for (uint64_t i = 0; i < 400 && !(committedAfterRetry && refused); ++i) {
    RandomStrategy strategy(1, i, i % 2 ? 0.5 : 0.03);  // eager and patient patchers
    const RunRecord run = (*session)->run(strategy, true);
    const bool retried = std::any_of(run.trace.begin(), run.trace.end(),
                                     [](const TraceSlice& s) { return s.what.find(": retry (") != std::string::npos; });
    if (run.violation) {
      ASSERT_EQ(propertyId(run.violation->property), "refused") << run.violation->message;
      EXPECT_NE(run.violation->message.find("gave up after 3 retries: thread 0 has a return address"),
                std::string::npos)
          << run.violation->message;
      refused = true;
    } else if (retried) {
      // The retried plan committed: the jump is at the entry.
      uint8_t first = 0;
      ASSERT_TRUE((*session)->machine().readGuest(inputs->layout.sites[0].entry, {&first, 1}));
      EXPECT_EQ(first, 0xE9);
      committedAfterRetry = first == 0xE9;
    }
  }
  EXPECT_TRUE(committedAfterRetry);
  EXPECT_TRUE(refused);
  // Without the thread ever inside spin() at a move (patcher first), nothing retries.
  ReplaySource first(patcherFirst(inputs->plan));
  EXPECT_FALSE((*session)->run(first).violation);
}

// Every safe protocol holds under exhaustive exploration with preemption bound 2 (two
// threads here to keep the suite quick; the bundled scenarios run three), and the unsafe
// one does not.
class ProtocolAtBound2 : public ::testing::TestWithParam<std::string> {};

TEST_P(ProtocolAtBound2, ExhaustiveExplorationGivesTheExpectedVerdict) {
  const std::string path = scenarioVariant(GetParam(), {{"count = 3", "count = 2"}}, "bound2-" + GetParam());
  const CommandResult r = runHph({"check", path, "--preemption-bound", "2", "--jobs", "1"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  const bool unsafe = GetParam().starts_with("patch-naive-jmp5");
  EXPECT_NE(r.out.find(unsafe ? "violation:" : "holds — exhaustive, preemption bound 2"), std::string::npos) << r.out;
  if (!unsafe) {
    EXPECT_NE(r.out.find("(exhausted)"), std::string::npos) << r.out;
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, ProtocolAtBound2,
                         ::testing::Values("patch-padding-short-jmp.x64.toml", "patch-int3-3step.x64.toml",
                                           "patch-stop-the-world.x64.toml", "patch-naive-jmp5.x64.toml",
                                           "patch-b-direct.arm64.toml", "patch-veneer.arm64.toml",
                                           "patch-literal-swap.arm64.toml", "patch-stop-the-world.arm64.toml",
                                           "patch-series.x64.toml", "patch-series.arm64.toml"),
                         [](const auto& info) {
                           std::string name = info.param.substr(6, info.param.size() - 11);
                           std::replace(name.begin(), name.end(), '-', '_');
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

}  // namespace
}  // namespace hph::test

namespace hph::test {
namespace {

// Bytes that do not decode, or an unaligned Arm64 entry, are bad input: a scenario that
// expects "refused" must not pass on them (only a protocol's own precondition refuses).
TEST(PlanRefusal, MalformedBytesAreBadInputNotARefusal) {
  PatchSite site;
  site.name = "broken";
  site.entry = 0x180001010;
  site.before = std::vector<uint8_t>(16, 0xCC);
  site.code = {0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0xC3};  // push es: invalid in 64-bit mode
  site.replacement = 0x180101000;
  site.scratch = 0x180100000;
  for (ProtocolKind protocol :
       {ProtocolKind::kPaddingShortJmp, ProtocolKind::kInt3ThreeStep, ProtocolKind::kStopTheWorld}) {
    auto plan = buildPlan(protocol, x64Arch(), {site});
    ASSERT_FALSE(plan.ok()) << protocolName(protocol);
    EXPECT_EQ(plan.error().status, Status::kBadInput) << protocolName(protocol) << ": " << plan.error().message;
  }
  // A 3-byte first instruction under int3-3step is the protocol's refusal.
  site.code = {0x48, 0x89, 0xC8, 0xC3, 0x90, 0x90, 0xC3};  // mov rax, rcx; ret
  auto refused = buildPlan(ProtocolKind::kInt3ThreeStep, x64Arch(), {site});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().status, Status::kRefused) << refused.error().message;

  PatchSite arm = site;
  arm.entry = 0x180001012;  // not 4-byte aligned
  arm.code = {0x1F, 0x20, 0x03, 0xD5, 0xC0, 0x03, 0x5F, 0xD6};
  for (ProtocolKind protocol : {ProtocolKind::kBDirect, ProtocolKind::kStopTheWorld}) {
    auto plan = buildPlan(protocol, arm64Arch(), {arm});
    ASSERT_FALSE(plan.ok()) << protocolName(protocol);
    EXPECT_EQ(plan.error().status, Status::kBadInput) << protocolName(protocol) << ": " << plan.error().message;
  }
}

}  // namespace
}  // namespace hph::test
