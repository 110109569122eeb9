// Visible points (`[explore] points = "visible"`, emu/core/VisiblePoints.h): which
// instructions are register-only (Arch::registerOnly, golden cases per architecture), and,
// compared execution, the unreduced exhaustive search reaching the same outcomes with a
// point before every watched instruction and with points only before the visible ones.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "emu/core/Arch.h"
#include "emu/core/VisiblePoints.h"
#include "harness/explore/DepthFirstSearch.h"
#include "harness/explore/Session.h"
#include "plan/Property.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

struct RegisterOnlyCase {
  const char* name;
  ArchKind arch;
  std::vector<uint8_t> bytes;
  bool registerOnly;
  std::optional<int64_t> next = {};    // relative to the instruction
  std::optional<int64_t> target = {};  // likewise
  bool indirect = false;
};

constexpr uint64_t kAt = 0x180001000;

class RegisterOnly : public ::testing::TestWithParam<RegisterOnlyCase> {};

TEST_P(RegisterOnly, SaysWhatTheInstructionTouchesAndWhereItGoes) {
  const RegisterOnlyCase& c = GetParam();
  const Arch& arch = archOf(c.arch);
  const std::optional<RegisterOnlyInstruction> insn = arch.registerOnly(c.bytes, kAt);
  ASSERT_EQ(insn.has_value(), c.registerOnly);
  if (!insn) return;
  auto at = [](std::optional<int64_t> offset) {
    return offset ? std::optional<uint64_t>(kAt + static_cast<uint64_t>(*offset)) : std::nullopt;
  };
  EXPECT_EQ(insn->next, at(c.next));
  EXPECT_EQ(insn->target, at(c.target));
  EXPECT_EQ(insn->indirect, c.indirect);
}

const ArchKind kX64 = ArchKind::kX64, kArm64 = ArchKind::kArm64;

INSTANTIATE_TEST_SUITE_P(
    Golden, RegisterOnly,
    ::testing::Values(
        // x64
        RegisterOnlyCase{"x64_mov_rax_rcx", kX64, {0x48, 0x89, 0xc8}, true, 3},
        RegisterOnlyCase{"x64_add_rax_imm", kX64, {0x48, 0x83, 0xc0, 0x01}, true, 4},
        RegisterOnlyCase{"x64_lea_rip", kX64, {0x48, 0x8d, 0x05, 0x10, 0x00, 0x00, 0x00}, true, 7},
        RegisterOnlyCase{"x64_nop_with_memory_operand", kX64, {0x0f, 0x1f, 0x40, 0x00}, true, 4},
        RegisterOnlyCase{"x64_cmove", kX64, {0x48, 0x0f, 0x44, 0xc1}, true, 4},
        RegisterOnlyCase{"x64_jmp_rel8", kX64, {0xeb, 0x10}, true, {}, 0x12},
        RegisterOnlyCase{"x64_jne_rel8_back", kX64, {0x75, 0xf0}, true, 2, -14},
        RegisterOnlyCase{"x64_jmp_rel32", kX64, {0xe9, 0x00, 0x01, 0x00, 0x00}, true, {}, 0x105},
        RegisterOnlyCase{"x64_jmp_rax", kX64, {0xff, 0xe0}, true, {}, {}, true},
        RegisterOnlyCase{"x64_load", kX64, {0x48, 0x8b, 0x01}, false},
        RegisterOnlyCase{"x64_store", kX64, {0x48, 0x89, 0x01}, false},
        RegisterOnlyCase{"x64_lock_xadd", kX64, {0xf0, 0x48, 0x0f, 0xc1, 0x05, 0, 0, 0, 0}, false},
        RegisterOnlyCase{"x64_jmp_through_memory", kX64, {0xff, 0x25, 0, 0, 0, 0}, false},
        RegisterOnlyCase{"x64_ret", kX64, {0xc3}, false}, RegisterOnlyCase{"x64_call", kX64, {0xe8, 0, 0, 0, 0}, false},
        RegisterOnlyCase{"x64_push", kX64, {0x53}, false}, RegisterOnlyCase{"x64_int3", kX64, {0xcc}, false},
        RegisterOnlyCase{"x64_cpuid", kX64, {0x0f, 0xa2}, false},
        RegisterOnlyCase{"x64_movss_xmm_xmm", kX64, {0xf3, 0x0f, 0x10, 0xc1}, true, 4},
        RegisterOnlyCase{"x64_movss_from_memory", kX64, {0xf3, 0x0f, 0x10, 0x01}, false},
        RegisterOnlyCase{"x64_ud2", kX64, {0x0f, 0x0b}, false}, RegisterOnlyCase{"x64_truncated", kX64, {0x48}, false},
        RegisterOnlyCase{"x64_add_rsp", kX64, {0x48, 0x83, 0xc4, 0x28}, false},  // moves the return addresses
        RegisterOnlyCase{"x64_mov_rsp_rbp", kX64, {0x48, 0x89, 0xec}, false},
        RegisterOnlyCase{"x64_mov_from_rsp", kX64, {0x48, 0x89, 0xe5}, true, 3},  // mov rbp, rsp: reads it only
        // Arm64
        RegisterOnlyCase{"arm64_add_imm", kArm64, {0x29, 0x05, 0x00, 0x91}, true, 4},       // add x9, x9, #1
        RegisterOnlyCase{"arm64_adrp", kArm64, {0x08, 0x00, 0x00, 0xb0}, true, 4},          // adrp x8, ...
        RegisterOnlyCase{"arm64_mov_register", kArm64, {0xe0, 0x03, 0x08, 0xaa}, true, 4},  // mov x0, x8
        RegisterOnlyCase{"arm64_nop", kArm64, {0x1f, 0x20, 0x03, 0xd5}, true, 4},
        RegisterOnlyCase{"arm64_dmb_ish", kArm64, {0xbf, 0x3b, 0x03, 0xd5}, true, 4},
        RegisterOnlyCase{"arm64_b", kArm64, {0x00, 0x80, 0x00, 0x14}, true, {}, 0x20000},     // b +0x20000
        RegisterOnlyCase{"arm64_cbnz_back", kArm64, {0xaa, 0xff, 0xff, 0x35}, true, 4, -12},  // cbnz w10, -12
        RegisterOnlyCase{"arm64_ret", kArm64, {0xc0, 0x03, 0x5f, 0xd6}, true, {}, {}, true},
        RegisterOnlyCase{"arm64_br", kArm64, {0x00, 0x02, 0x1f, 0xd6}, true, {}, {}, true},  // br x16
        RegisterOnlyCase{"arm64_isb", kArm64, {0xdf, 0x3f, 0x03, 0xd5}, false},
        RegisterOnlyCase{"arm64_add_sp", kArm64, {0xff, 0x43, 0x00, 0x91}, false},   // add sp, sp, #0x10
        RegisterOnlyCase{"arm64_mov_x30", kArm64, {0xfe, 0x03, 0x00, 0xaa}, false},  // mov x30, x0
        RegisterOnlyCase{"arm64_bl", kArm64, {0x01, 0x00, 0x00, 0x94}, false},
        RegisterOnlyCase{"arm64_ldr", kArm64, {0x08, 0x09, 0x40, 0xf9}, false},          // ldr x8, [x8, #0x10]
        RegisterOnlyCase{"arm64_ldr_literal", kArm64, {0x50, 0x00, 0x00, 0x58}, false},  // ldr x16, #8
        RegisterOnlyCase{"arm64_ldaxr", kArm64, {0x09, 0xfd, 0x5f, 0xc8}, false},
        RegisterOnlyCase{"arm64_stlxr", kArm64, {0x09, 0xfd, 0x0a, 0xc8}, false},
        RegisterOnlyCase{"arm64_svc", kArm64, {0x01, 0x00, 0x00, 0xd4}, false},
        RegisterOnlyCase{"arm64_brk", kArm64, {0x00, 0x00, 0x20, 0xd4}, false},
        RegisterOnlyCase{"arm64_fadd", kArm64, {0x00, 0x28, 0x61, 0x1e}, false}),  // unknown: visible
    [](const auto& info) { return std::string(info.param.name); });

// Which instructions of counter's bump keep their point: those in the code the plan
// stores to, those that touch memory, and those that may leave the watched range.
struct NeedsPointCase {
  const char* name;
  const char* image;
  uint64_t watchedBytes;          // of bump, from its entry
  std::vector<uint8_t> store;     // the plan stores these at bump's entry (none: empty plan)
  std::vector<uint32_t> offsets;  // bump's instructions
  std::vector<bool> needsPoint;   // of each
  uint32_t storeAt = 0;           // where in bump the plan stores
};

class NeedsPoint : public ::testing::TestWithParam<NeedsPointCase> {};

TEST_P(NeedsPoint, OnlyBeforeWhatAnotherActorCanObserve) {
  const NeedsPointCase& c = GetParam();
  auto loaded = loadCorpusImage(c.image);
  ASSERT_TRUE(loaded);
  const uint64_t bump = loaded->address("bump");
  Machine& machine = *loaded->machine;
  ASSERT_TRUE(machine.watchInstructions({{bump, bump + c.watchedBytes}}, false));
  Plan plan;
  if (!c.store.empty()) plan.steps.push_back(StoreStep{.address = bump + c.storeAt, .bytes = c.store, .label = "bump"});
  VisiblePoints visible(machine.arch(), plan);
  ASSERT_EQ(c.offsets.size(), c.needsPoint.size());
  for (size_t i = 0; i < c.offsets.size(); ++i) {
    const uint32_t size = i + 1 < c.offsets.size() ? c.offsets[i + 1] - c.offsets[i] : 1;
    EXPECT_EQ(visible.needsPoint(machine, bump + c.offsets[i], size), c.needsPoint[i]) << "bump+" << c.offsets[i];
    // Asked again (remembered): the same answer.
    EXPECT_EQ(visible.needsPoint(machine, bump + c.offsets[i], size), c.needsPoint[i]) << "bump+" << c.offsets[i];
  }
}

// x64 bump: mov rax, rcx; lock xadd [g_counter], rax; add rax, rcx; ret.
// Arm64 bump: nop; adrp; add; ldaxr; add; stlxr; cbnz (to the ldaxr); mov; dmb; ret.
INSTANTIATE_TEST_SUITE_P(
    Golden, NeedsPoint,
    ::testing::Values(
        NeedsPointCase{
            "x64_entry_stored", "counter.x64.dll", 0x10, {0xeb, 0xf9}, {0, 3, 0xc, 0xf}, {true, true, false, true}},
        NeedsPointCase{"x64_nothing_stored", "counter.x64.dll", 0x10, {}, {0, 3, 0xc, 0xf}, {false, true, false, true}},
        NeedsPointCase{
            "x64_ret_outside_the_watched_range", "counter.x64.dll", 0xf, {}, {0, 3, 0xc}, {false, true, true}},
        NeedsPointCase{"arm64_entry_stored",
                       "counter.arm64.dll",
                       0x28,
                       {0x00, 0x80, 0x00, 0x14},
                       {0, 4, 8, 0xc, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24},
                       {true, false, false, true, false, true, false, false, false, true}},
        NeedsPointCase{"arm64_nothing_stored",
                       "counter.arm64.dll",
                       0x28,
                       {},
                       {0, 4, 8, 0xc, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24},
                       {false, false, false, true, false, true, false, false, false, true}},
        // Into the plan's code, by falling through (the add before the ldaxr) or by
        // branching (the loop's cbnz): a thread about to enter it keeps its point.
        NeedsPointCase{"arm64_into_stored_code",
                       "counter.arm64.dll",
                       0x28,
                       {0x09, 0xfd, 0x5f, 0xc8},
                       {0, 4, 8, 0xc, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24},
                       {false, false, true, true, false, true, true, false, false, true},
                       0xc},
        // The loop's branch falls through to unwatched code: it keeps its point.
        NeedsPointCase{"arm64_fall_through_outside_the_watched_range",
                       "counter.arm64.dll",
                       0x1c,
                       {},
                       {0, 4, 8, 0xc, 0x10, 0x14, 0x18},
                       {false, false, false, true, false, true, true}}),
    [](const auto& info) { return std::string(info.param.name); });

// What a run ended with, as far as the checkers and the invariant tell: the property a
// violated run broke, else every thread's result, the invariant's value and how many
// calls reached a replacement (how many calls the patch caught).
using Outcome = std::tuple<std::string, std::vector<uint64_t>, uint64_t, uint64_t>;

struct Outcomes {
  std::set<Outcome> seen;
  uint64_t runs = 0;
};

Outcomes outcomes(const std::string& name, PointsMode points, uint32_t bound, uint32_t threads) {
  Outcomes out;
  auto inputs = preparedScenario(corpusScenario(name), [&](Scenario& s) {
    s.explore.points = points;
    s.threadCount = threads;
  });
  if (!inputs) return out;
  auto session = Session::create(inputs, false);
  EXPECT_TRUE(session.ok());
  if (!session) return out;
  DepthFirstSearch search({}, bound, Reduction::kNone);
  do {
    const RunRecord run = (*session)->run(search);
    EXPECT_FALSE(run.error) << run.error->message;
    ++out.runs;
    if (run.abandoned) continue;
    if (run.violation)
      out.seen.insert({std::string(propertyId(run.violation->property)), {}, 0, 0});
    else
      out.seen.insert({"", run.exitCodes, run.invariantValue.value_or(0), run.exercise.patchedCalls});
  } while (search.backtrack() && out.runs < 300000);
  return out;
}

class VisiblePointsCompared : public ::testing::TestWithParam<BoundedScenario> {};

TEST_P(VisiblePointsCompared, ReachEveryOutcomeOfAPointBeforeEveryWatchedInstruction) {
  const BoundedScenario& c = GetParam();
  const Outcomes watched = outcomes(c.scenario, PointsMode::kWatched, c.bound, c.threads);
  const Outcomes visible = outcomes(c.scenario, PointsMode::kVisible, c.bound, c.threads);
  ASSERT_FALSE(watched.seen.empty());
  EXPECT_EQ(visible.seen, watched.seen);
  EXPECT_LT(visible.runs, watched.runs);
  std::printf("%s bound %u, %u threads: %zu outcomes; runs: watched %llu, visible %llu\n", c.scenario, c.bound,
              c.threads, watched.seen.size(), static_cast<unsigned long long>(watched.runs),
              static_cast<unsigned long long>(visible.runs));
}

INSTANTIATE_TEST_SUITE_P(Corpus, VisiblePointsCompared,
                         ::testing::Values(BoundedScenario{"race.x64.toml", 2, 2},
                                           BoundedScenario{"race.arm64.toml", 2, 2},
                                           BoundedScenario{"patch-padding-short-jmp.x64.toml", 1, 3},
                                           BoundedScenario{"patch-stop-the-world.x64.toml", 1, 2},
                                           BoundedScenario{"patch-stop-the-world-retry.x64.toml", 1, 2},
                                           BoundedScenario{"patch-int3-3step.x64.toml", 1, 2},
                                           BoundedScenario{"patch-naive-jmp5.x64.toml", 1, 2},
                                           BoundedScenario{"canary-no-move-pc.x64.toml", 1, 2},
                                           BoundedScenario{"patch-racy-replacement.x64.toml", 1, 2},
                                           BoundedScenario{"patch-b-direct.arm64.toml", 2, 2},
                                           BoundedScenario{"patch-stop-the-world.arm64.toml", 1, 2},
                                           BoundedScenario{"patch-veneer.arm64.toml", 1, 2},
                                           BoundedScenario{"patch-literal-swap.arm64.toml", 1, 2},
                                           BoundedScenario{"canary-stale-veneer.arm64.toml", 1, 2},
                                           BoundedScenario{"canary-b-direct-non-cmodx.arm64.toml", 1, 2}),
                         [](const auto& info) { return boundedScenarioName(info.param); });

}  // namespace
}  // namespace hph::test
