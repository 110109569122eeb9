// Which Arm64 atomic adds commute, as golden cases over hand-assembled code (encodings
// from llvm-mc, the assembly beside each word): what an instruction reads and writes
// (arm64/InstructionEffects.h), which four-instruction loops are atomic adds
// (arm64/ExclusiveAdd.h), and whether the thread ever observes the loop's results (the
// walk of arm64/ResultLiveness.h): the loop at kPc, its function's code after it, and a
// caller at kLink, where x30 says a `ret` goes.
#include <gtest/gtest.h>

#include <unicorn/unicorn.h>

#include <cstring>
#include <vector>

#include "emu/arm64/ExclusiveAdd.h"
#include "emu/arm64/InstructionEffects.h"
#include "emu/core/Machine.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

using arm64::bit;
using arm64::Control;

constexpr uint64_t kPc = 0x180001000;
constexpr uint64_t kLink = 0x180002000;

// counter.c's bump, as clang-22 compiles it: ldaxr x8, [x9]; add x8, x8, x0;
// stlxr w10, x8, [x9]; cbnz w10, loop.
const std::vector<uint32_t> kBumpLoop = {0xc85ffd28, 0x8b000108, 0xc80afd28, 0x35ffffaa};

constexpr uint32_t kRet = 0xd65f03c0;
constexpr uint32_t kMovX0X8 = 0xaa0803e0;  // mov x0, x8
constexpr uint32_t kBl = 0x94000400;       // bl +0x1000
constexpr uint32_t kBrk = 0xd4200000;      // brk #0: the end of a case's code

std::vector<uint8_t> bytesOf(const std::vector<uint32_t>& words) {
  std::vector<uint8_t> out(words.size() * 4);
  if (!out.empty()) std::memcpy(out.data(), words.data(), out.size());
  return out;
}

// ---- What one instruction reads and writes.

struct EffectsCase {
  const char* name;
  uint32_t word;
  bool known;
  arm64::RegisterMask reads = 0, writes = 0;
  bool readsFlags = false, writesFlags = false;
  arm64::RegisterMask addresses = 0, stored = 0;
  Control control = Control::kNext;
};

const EffectsCase kEffects[] = {
    {"add_register", 0x8b000108, true, bit(8) | bit(0), bit(8)},                 // add x8, x8, x0
    {"mov_register", kMovX0X8, true, bit(8), bit(0)},                            // mov x0, x8 (orr x0, xzr, x8)
    {"movz_reads_nothing", 0x52800020, true, 0, bit(0)},                         // mov w0, #1 (Capstone 4: "reads" w0)
    {"movk_keeps_the_rest", 0xf2800020, true, bit(0), bit(0)},                   // movk x0, #1
    {"bfxil_keeps_the_rest", 0xb3401d00, true, bit(8) | bit(0), bit(0)},         // bfxil x0, x8, #0, #8
    {"eor_zeroing", 0xca000000, true, 0, bit(0)},                                // eor x0, x0, x0
    {"sub_zeroing", 0xcb000000, true, 0, bit(0)},                                // sub x0, x0, x0
    {"madd_three_sources", 0x9b010900, true, bit(8) | bit(1) | bit(2), bit(0)},  // madd x0, x8, x1, x2
    {"cmp_sets_flags", 0xf100041f, true, bit(0), 0, false, true},                // cmp x0, #1
    {"tst_sets_flags_into_xzr", 0xf240001f, true, bit(0), 0, false, true},       // tst x0, #1 (ands xzr, ...)
    {"csel_reads_flags", 0x9a830041, true, bit(2) | bit(3), bit(1), true},       // csel x1, x2, x3, eq
    {"ldr_register_offset", 0xf8737aa8, true, 0, bit(8), false, false,
     bit(21) | bit(19)},  // ldr x8, [x21, x19, lsl #3]
    {"str_register_offset", 0xf8337aa8, true, 0, 0, false, false, bit(21) | bit(19),
     bit(8)},                                                                          // str x8, [x21, x19, lsl #3]
    {"str_sp_base", 0xf90007e0, true, 0, 0, false, false, 0, bit(0)},                  // str x0, [sp, #8]
    {"ldp_post_index", 0xa8c17bfd, true, 0, bit(29) | bit(30)},                        // ldp x29, x30, [sp], #16
    {"stp_pre_index", 0xa9bf07e0, true, 0, 0, false, false, 0, bit(0) | bit(1)},       // stp x0, x1, [sp, #-16]!
    {"ldr_literal", 0x58000040, true, 0, bit(0)},                                      // ldr x0, #8
    {"prfm_loads_nothing", 0xf9800000, true, 0, 0, false, false, bit(0)},              // prfm pldl1keep, [x0]
    {"ldr_q_simd", 0x3dc00100, true, 0, 0, false, false, bit(8)},                      // ldr q0, [x8]
    {"b_cond", 0x54000040, true, 0, 0, true, false, 0, 0, Control::kConditional},      // b.eq #8
    {"cbz", 0xb4000040, true, bit(0), 0, false, false, 0, 0, Control::kConditional},   // cbz x0, #8
    {"tbnz", 0x37180040, true, bit(0), 0, false, false, 0, 0, Control::kConditional},  // tbnz w0, #3, #8
    {"bl", kBl, true, 0, 0, false, false, 0, 0, Control::kCall},
    {"blr", 0xd63f0000, true, bit(0), 0, false, false, 0, 0, Control::kCall},     // blr x0
    {"br", 0xd61f0000, true, bit(0), 0, false, false, 0, 0, Control::kIndirect},  // br x0
    {"ret", kRet, true, bit(30), 0, false, false, 0, 0, Control::kReturn},
    {"dmb", 0xd5033bbf, true},  // dmb ish
    {"nop", 0xd503201f, true},
    // Outside the known classes: the walk takes them as observing everything.
    {"svc", 0xd4000001, false},
    {"ldadd_lse", 0xf8200041, false},     // ldadd x0, x1, [x2]
    {"ldar", 0xc8dffc20, false},          // ldar x0, [x1]
    {"fmov_to_simd", 0x9e670100, false},  // fmov d0, x8
};

class Arm64Effects : public ::testing::TestWithParam<EffectsCase> {};

TEST_P(Arm64Effects, MatchTheGoldenAnswer) {
  const EffectsCase& c = GetParam();
  const arm64::InstructionEffects e = arm64::effectsOf(c.word, kPc);
  ASSERT_EQ(e.known, c.known);
  if (!c.known) return;
  EXPECT_EQ(e.reads, c.reads);
  EXPECT_EQ(e.writes, c.writes);
  EXPECT_EQ(e.readsFlags, c.readsFlags);
  EXPECT_EQ(e.writesFlags, c.writesFlags);
  EXPECT_EQ(e.addresses, c.addresses);
  EXPECT_EQ(e.stored, c.stored);
  EXPECT_EQ(e.control, c.control);
}

INSTANTIATE_TEST_SUITE_P(Arm64, Arm64Effects, ::testing::ValuesIn(kEffects),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Arm64Effects, BranchTargets) {
  EXPECT_EQ(arm64::effectsOf(kBl, kPc).target, kPc + 0x1000);
  EXPECT_EQ(arm64::effectsOf(0x35ffffaa, kPc).target, kPc - 12);  // cbnz w10, #-12
  EXPECT_EQ(arm64::effectsOf(0x37180040, kPc).target, kPc + 8);   // tbnz w0, #3, #8
  EXPECT_TRUE(arm64::effectsOf(0x9100001f, kPc).writesSp);        // mov sp, x0
  EXPECT_TRUE(arm64::effectsOf(0x92401c1f, kPc).writesSp);        // and sp, x0, #0xff
}

// ---- Which loops are atomic adds.

struct LoopCase {
  const char* name;
  std::vector<uint32_t> loop;
  arm64::RegisterMask results;  // 0: not an atomic add
};

const LoopCase kLoops[] = {
    {"bump", kBumpLoop, bit(8)},
    // ldxr x1, [x2]; sub x3, x1, #1; stxr w4, x3, [x2]; cbnz w4, loop: old value and sum apart.
    {"fetch_sub_immediate", {0xc85f7c41, 0xd1000423, 0xc8047c43, 0x35ffffa4}, bit(1) | bit(3)},
    {"add_operands_swapped", {0xc85ffd28, 0x8b080008, 0xc80afd28, 0x35ffffaa}, bit(8)},  // add x8, x0, x8
    {"cbnz_elsewhere", {0xc85ffd28, 0x8b000108, 0xc80afd28, 0x35ffffca}, 0},             // cbnz w10, #-8
    {"stores_the_old_value", {0xc85ffd28, 0x8b00010b, 0xc80afd28, 0x35ffffaa}, 0},       // add x11, ...; stlxr w10, x8
    {"status_is_the_base", {0xc85ffd28, 0x8b000108, 0xc809fd28, 0x35ffffa9}, 0},         // stlxr w9, x8, [x9]
    {"amount_is_the_old_value", {0xc85ffd28, 0x8b080108, 0xc80afd28, 0x35ffffaa}, 0},    // add x8, x8, x8
    {"flags_setting_add", {0xc85ffd28, 0xab000108, 0xc80afd28, 0x35ffffaa}, 0},          // adds x8, x8, x0
    {"other_word_stored", {0xc85ffd28, 0x8b000108, 0xc80afd68, 0x35ffffaa}, 0},          // stlxr w10, x8, [x11]
    {"word_32_bit", {0x885ffd28, 0x0b000108, 0x880afd28, 0x35ffffaa}, 0},                // ldaxr w8 ...
    {"orr_does_not_add", {0xc85ffd28, 0xaa000108, 0xc80afd28, 0x35ffffaa}, 0},           // orr x8, x8, x0
};

class Arm64ExclusiveLoop : public ::testing::TestWithParam<LoopCase> {};

TEST_P(Arm64ExclusiveLoop, MatchesTheGoldenAnswer) {
  const LoopCase& c = GetParam();
  const std::optional<arm64::ExclusiveAdd> loop = arm64::exclusiveAddAt(bytesOf(c.loop), kPc);
  EXPECT_EQ(loop ? loop->results : 0, c.results);
}

INSTANTIATE_TEST_SUITE_P(Arm64, Arm64ExclusiveLoop, ::testing::ValuesIn(kLoops),
                         [](const auto& info) { return std::string(info.param.name); });

// The Arch answer: the word the base register points at, and the loop's extent.
TEST(Arm64ExclusiveLoop, AddsToTheWordTheBaseRegisterHolds) {
  auto machine = Machine::create(arm64Arch());
  ASSERT_TRUE(machine.ok());
  const Engine& engine = (*machine)->engine();
  engine.setReg(UC_ARM64_REG_X9, 0x180003000);
  const std::optional<AtomicAdd> add = arm64Arch().atomicAdd(engine, bytesOf(kBumpLoop), kPc);
  ASSERT_TRUE(add);
  EXPECT_EQ(add->address, 0x180003000u);
  EXPECT_EQ(add->begin, kPc);
  EXPECT_EQ(add->end, kPc + 16);
  engine.setReg(UC_ARM64_REG_X9, 0x180003004);  // not a naturally aligned word
  EXPECT_FALSE(arm64Arch().atomicAdd(engine, bytesOf(kBumpLoop), kPc));
}

// ---- Whether the thread observes the loop's results.

struct WalkCase {
  const char* name;
  std::vector<uint32_t> after;   // right after the loop
  std::vector<uint32_t> caller;  // at kLink
  bool unobserved;
};

// counter.c's worker around its call to bump: the result is dropped, x8 reloaded.
const std::vector<uint32_t> kWorkerAfterBump = {
    0xf8737aa8,  // ldr x8, [x21, x19, lsl #3]
    0xf1000694,  // subs x20, x20, #1
    0x91000508,  // add x8, x8, #1
    0xf8337aa8,  // str x8, [x21, x19, lsl #3]
    0x54000061,  // b.ne +12 (to the next call)
    0xf8737aa0,  // ldr x0, [x21, x19, lsl #3]
    kRet,        // (x30 was reloaded by the caller's caller: not followed)
    0x52800020,  // mov w0, #1
    kBl,         // bl bump
};

const WalkCase kWalks[] = {
    {"bump_in_worker", {kMovX0X8, 0xd5033bbf, kRet}, kWorkerAfterBump, true},  // mov x0, x8; dmb ish; ret
    {"returned_and_tested", {kMovX0X8, kRet}, {0xb4000040, kBrk}, false},      // cbz x0, #8
    {"returned_and_stored", {kMovX0X8, kRet}, {0xf90007e0, kBrk}, false},      // str x0, [sp, #8]
    {"used_as_an_address", {0xf9400100, kBrk}, {}, false},                     // ldr x0, [x8]
    {"argument_to_a_call", {kMovX0X8, kBl}, {}, false},
    {"callee_saved_at_a_call",
     {0xaa0803f3, 0x52800000, 0x52800008, kBl},
     {},
     false},                                                                  // mov x19, x8; mov w0, #0; mov w8, #0
    {"volatile_dead_at_a_call", {0xaa0803e9, 0x52800008, kBl}, {}, true},     // mov x9, x8; mov w8, #0; bl
    {"movk_keeps_it", {kMovX0X8, 0x52800008, 0xf2800020, kBl}, {}, false},    // ...; mov w8, #0; movk x0, #1; bl
    {"movz_replaces_it", {kMovX0X8, 0x52800008, 0x52800020, kBl}, {}, true},  // ...; mov w0, #1; bl
    {"flags_from_it_tested",
     {0xab1f0100, 0x52800008, 0x52800000, 0x54000040, kBrk},
     {},
     false},  // adds x0, x8, xzr; ...; b.eq
    {"clean_flags_both_ways_overwrite",
     {0xf100043f, 0x54000060, 0x52800008, kRet, 0x52800008, kRet},  // cmp x1, #1; b.eq +12; mov w8, #0; ret; ...
     {kBrk},
     true},
    {"one_way_stores", {0xf100043f, 0x54000060, 0x52800008, kRet, 0xf90007e8, kBrk}, {kBrk}, false},
    {"return_after_x30_written", {kMovX0X8, 0x52800008, 0xa8c17bfd, kRet}, {kBrk}, false},  // ...; ldp x29, x30; ret
    {"indirect_branch", {0xd61f0020}, {}, false},                                           // br x1
    {"into_the_stack_pointer", {0x9100011f, kBrk}, {}, false},                              // mov sp, x8
    {"system_call", {0xd4000001}, {}, false},                                               // svc #0
    {"to_a_vector_register", {0x9e670100, 0x52800008, kBl}, {}, false},                     // fmov d0, x8
};

GuestBytes codeOf(const WalkCase& c) {
  GuestBytes code;
  code.put(kPc, bytesOf(kBumpLoop));
  code.put(kPc + 16, bytesOf(c.after));
  code.put(kLink, bytesOf(c.caller));
  return code;
}

class Arm64ExclusiveAddWalk : public ::testing::TestWithParam<WalkCase> {};

TEST_P(Arm64ExclusiveAddWalk, MatchesTheGoldenAnswer) {
  const WalkCase& c = GetParam();
  const GuestBytes code = codeOf(c);
  const CodeChanges nothingChanges = [](uint64_t, uint64_t) { return false; };
  EXPECT_EQ(arm64Arch().atomicAddUnobserved(bytesOf(kBumpLoop), kPc, {.link = kLink}, code.reader(), nothingChanges),
            c.unobserved);
}

// The caller's code is about to be patched: the thread may run other bytes there.
TEST(Arm64ExclusiveAddWalk, CodeAPlanStepWillChangeIsObserved) {
  const WalkCase& c = kWalks[0];
  ASSERT_TRUE(c.unobserved);
  const GuestBytes code = codeOf(c);
  const CodeChanges callerChanges = [](uint64_t begin, uint64_t end) { return begin < kLink + 4 && kLink < end; };
  EXPECT_FALSE(arm64Arch().atomicAddUnobserved(bytesOf(kBumpLoop), kPc, {.link = kLink}, code.reader(), callerChanges));
}

INSTANTIATE_TEST_SUITE_P(Arm64, Arm64ExclusiveAddWalk, ::testing::ValuesIn(kWalks),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace hph::test
