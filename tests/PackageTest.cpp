// Hotpatch packages: a patch image's own table (base identity, sequence number, FUNCTION
// and ABSOLUTE chunks), cumulative series, explicit maps, and where patches load.
#include <gtest/gtest.h>

#include <cstring>

#include "emu/pe/PeFormat.h"
#include "harness/explore/ReplaySource.h"
#include "harness/explore/Session.h"
#include "patch/LiveCode.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

std::shared_ptr<const ScenarioInputs> prepared(const std::string& path) { return preparedScenario(path); }

void expectRefused(const std::string& path, const std::string& expected) {
  const CommandResult r = runHph({"plan", path});
  EXPECT_EQ(r.exitCode, 2) << expected << ": " << r.out;
  EXPECT_NE(r.err.find(expected), std::string::npos) << "expected '" << expected << "' in " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

class Packages : public ::testing::TestWithParam<std::string> {
 protected:
  std::string arch() const { return GetParam(); }
  std::string series() const { return "patch-series." + arch() + ".toml"; }
  std::string image(const std::string& stem) const { return stem + "." + arch() + ".dll"; }
};

TEST_P(Packages, TheTableNamesSitesAndCellsWithoutAnExplicitMap) {
  auto inputs = prepared(corpusScenario(series()));
  ASSERT_TRUE(inputs);
  ASSERT_EQ(inputs->layout.patches.size(), 2u);
  EXPECT_EQ(inputs->layout.patches[0].sequenceNumber, 1u);
  EXPECT_EQ(inputs->layout.patches[1].sequenceNumber, 2u);
  // FUNCTION chunks: bump and bump_keyed, then bump again over the first patch.
  ASSERT_EQ(inputs->layout.sites.size(), 3u);
  EXPECT_EQ(inputs->layout.sites[0].name, "bump");
  EXPECT_EQ(inputs->layout.sites[1].name, "bump_keyed");
  EXPECT_EQ(inputs->layout.sites[2].name, "bump");
  EXPECT_EQ(inputs->layout.sites[2].previous, inputs->layout.sites[0].replacement);
  EXPECT_EQ(inputs->layout.sites[2].scratch, inputs->layout.sites[0].scratch)
      << "a retarget reuses the first patch's redirect";
  // ABSOLUTE chunks: the cells hold the base's g_counter / g_keyed.
  const PeImage& base = *inputs->base;
  auto exportRva = [&](const std::string& name) {
    for (const ExportInfo& e : base.exports)
      if (e.name == name) return e.rva;
    return 0u;
  };
  ASSERT_EQ(inputs->layout.patches[0].cells.size(), 2u);
  EXPECT_EQ(inputs->layout.patches[0].cells[0].second, exportRva("g_counter"));
  EXPECT_EQ(inputs->layout.patches[0].cells[1].second, exportRva("g_keyed"));
}

// The plan says which site each step patches, in the sites' order (reversed: the last
// patch is undone first): vacuity credits a step to its own site, and the series' two
// sites of bump share a window.
TEST_P(Packages, ThePlanNamesTheSiteOfEachStep) {
  for (const bool reverse : {false, true}) {
    auto inputs = prepared(
        reverse ? scenarioVariant(series(), {{"\\[protocol\\]", "[protocol]\nreverse = true"}}, "series-reversed.toml")
                : corpusScenario(series()));
    ASSERT_TRUE(inputs);
    const Plan& plan = inputs->plan;
    ASSERT_EQ(plan.stepSites.size(), plan.steps.size());
    std::vector<uint32_t> order;  // the sites in the order the plan patches them
    for (const uint32_t site : plan.stepSites)
      if (order.empty() || order.back() != site) order.push_back(site);
    const std::vector<uint32_t> expected =
        reverse ? std::vector<uint32_t>{0, 1, 2, 1, 0} : std::vector<uint32_t>{0, 1, 2};
    EXPECT_EQ(order, expected) << reverse;
    // Each site's steps store only inside its own regions (the hotpatch area or its function).
    for (size_t i = 0; i < plan.steps.size(); ++i)
      if (const auto* store = std::get_if<StoreStep>(&plan.steps[i]); store && !store->data)
        EXPECT_TRUE(inSiteRegions(inputs->layout.sites[plan.stepSites[i]], store->address))
            << "step " << i << " " << describeStep(plan.steps[i]);
  }
}

TEST_P(Packages, ASeriesEndsWithEveryCallInTheLastPatch) {
  // The series applied before any thread runs: each of the 3 threads' calls of bump
  // reaches bump_v3, none bump_v2; v2_calls (the first patch's counter, of bump_v2 and
  // bump_keyed_v2) counts only the bump_keyed calls, which the second patch leaves to the
  // first; the base's counters (through the cells) saw every call.
  uint64_t invariant = 0;
  EXPECT_EQ(callAfterPatching(corpusScenario(series()), 1, "v3_calls", &invariant), 3u * kPatchWorkerCalls);
  EXPECT_EQ(invariant, 1u);
  EXPECT_EQ(callAfterPatching(corpusScenario(series()), 0, "v2_calls"), 3u * kPatchWorkerCalls);
  // The first patch alone: every call of either function is the first patch's.
  const std::string first = scenarioVariant(series(), {{", \"[^\"]*counter_patch2[^\"]*\"", ""}}, "first-only.toml");
  EXPECT_EQ(callAfterPatching(first, 0, "v2_calls"), 2u * 3u * kPatchWorkerCalls);
}

TEST_P(Packages, TheSeriesHoldsUnderExploration) {
  const std::string twoThreads = scenarioVariant(series(), {{"count = 3", "count = 2"}}, "series-2.toml");
  const CommandResult r = runHph({"check", twoThreads, "--preemption-bound", "1", "--jobs", "1"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("(exhausted)"), std::string::npos) << r.out;
}

TEST_P(Packages, AWrongPredecessorIsRefused) {
  const std::string patch2 = "\"" + corpusImage(image("counter_patch2")) + "\"";
  const std::string patch1 = "\"" + corpusImage(image("counter_hotpatch")) + "\"";
  const std::string list = "patch = \\[[^\\]]*\\]";
  expectRefused(scenarioVariant(series(), {{list, "patch = [" + patch2 + "]"}}, "alone.toml"),
                "patch[0]: counter_patch2." + arch() +
                    ".dll: HotPatchBase[0].SequenceNumber: applies over patch 1, "
                    "but counter." +
                    arch() + ".dll is at the unpatched image");
  expectRefused(scenarioVariant(series(), {{list, "patch = [" + patch2 + ", " + patch1 + "]"}}, "reversed.toml"),
                "HotPatchBase[0].SequenceNumber: applies over patch 1");
  expectRefused(scenarioVariant(series(), {{list, "patch = [" + patch1 + ", " + patch1 + "]"}}, "twice.toml"),
                "patch[1]: counter_hotpatch." + arch() +
                    ".dll: HotPatchBase[0].SequenceNumber: applies over the "
                    "unpatched image, but counter." +
                    arch() + ".dll is at patch 1");
}

TEST_P(Packages, ABaseOfAnotherBuildIsRefused) {
  // The same base with its timestamp, then its checksum, changed: not the patch's base.
  for (const auto& [offset, field] : {std::pair<uint32_t, std::string>{4, "OriginalTimeDateStamp"},
                                      std::pair<uint32_t, std::string>{20 + pe::opt::kCheckSum, "OriginalCheckSum"}}) {
    std::vector<uint8_t> bytes = readFile(corpusImage(image("counter")));
    uint32_t lfanew = 0, value = 0;
    std::memcpy(&lfanew, &bytes[pe::kLfanewOffset], 4);
    std::memcpy(&value, &bytes[lfanew + 4 + offset], 4);
    value ^= 0x10;
    std::memcpy(&bytes[lfanew + 4 + offset], &value, 4);
    const std::string other = writeTempFile("other-build-" + field + "." + arch() + ".dll", bytes);
    expectRefused(scenarioVariant(series(), {{"base = \"[^\"]*\"", "base = \"" + other + "\""}}, field + ".toml"),
                  "patch[0]: counter_hotpatch." + arch() + ".dll: HotPatchBase[0]." + field + ": names a base with");
  }
}

TEST_P(Packages, ATableAndAnExplicitMapTogetherAreAmbiguous) {
  const std::string path =
      scenarioVariant(series(),
                      {{"patch = \\[([^,]*),[^\\]]*\\]", "patch = $1"},
                       {"\\[protocol\\]", "[[functions]]\ntarget = \"bump\"\nreplacement = \"bump_v2\"\n\n[protocol]"}},
                      "ambiguous.toml");
  expectRefused(path, "[[functions]]: counter_hotpatch." + arch() + ".dll carries its own hotpatch table");
  // An image without a table needs the map.
  const std::string noMap =
      scenarioVariant("patch-literal-swap.arm64.toml", {{"\\[\\[functions\\]\\][^\\[]*", ""}}, "no-map.toml");
  expectRefused(noMap, "[[functions]]: missing: counter_patch.arm64.dll carries no hotpatch table");
}

INSTANTIATE_TEST_SUITE_P(BothArchitectures, Packages, ::testing::Values("x64", "arm64"));

// A patch loaded far from the base (patch_address): direct branches cannot reach it,
// the address table (x64) and the veneer's literal (Arm64) can.
TEST(PatchPlacement, FarPatchesGoThroughAnAddressTableOrAVeneer) {
  const std::pair<std::string, std::string> far{"(patch = )", "patch_address = \"0x7ff600000000\"\n$1"};
  expectRefused(scenarioVariant("patch-naive-jmp5.x64.toml", {far}, "far-naive.toml"),
                "out of the jump's +-2 GiB reach");
  expectRefused(scenarioVariant("patch-b-direct.arm64.toml", {far}, "far-b.toml"),
                "out of B's +-128 MiB reach (use veneer)");
  for (const char* file : {"patch-padding-short-jmp.x64.toml", "patch-veneer.arm64.toml"}) {
    const std::string path = scenarioVariant(file, {far}, std::string("far-") + file);
    auto inputs = prepared(path);
    ASSERT_TRUE(inputs);
    EXPECT_EQ(inputs->layout.patches[0].loadAddress, 0x7ff600000000u);
    EXPECT_EQ(callAfterPatching(path, 0, "v2_calls"), 3u * kPatchWorkerCalls) << file;
  }
}

}  // namespace
}  // namespace hph::test
