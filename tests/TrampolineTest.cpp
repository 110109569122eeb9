// Trampolines per instruction class on both architectures (data-driven, as Zydis' golden
// tests): relocated ones must be equivalent under differential execution, refused ones
// must say why. The checker itself must catch deliberately broken trampolines.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "patch/Redirect.h"
#include "patch/TrampolineCheck.h"
#include "support/HexText.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

constexpr uint64_t kEntry = 0x140001000;

std::vector<uint8_t> fromHex(std::string_view text) { return parseHexBytes(text, {.ignored = " "}).value(); }

std::vector<uint8_t> fromWords(std::initializer_list<uint32_t> words) {
  std::vector<uint8_t> out(words.size() * 4);
  size_t i = 0;
  for (uint32_t w : words) std::memcpy(&out[4 * i++], &w, 4);
  return out;
}

struct Case {
  const char* name;
  const Arch* arch;
  std::vector<uint8_t> function;
  uint64_t trampolineDistance = 0x10000;  // trampoline = entry + this
  const char* refusal = nullptr;          // expected substring; nullptr: must relocate
  uint32_t patchBytes = 0;                // 0: the default redirect's size
  bool bti = false;
  bool returnsIntoTrampoline = false;  // TrampolineRequest::callsReturnIntoTrampoline (x64 stop-the-world)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Pads a function so the span never runs off its end (int3 / udf #0 after the code).
std::vector<uint8_t> padded(std::vector<uint8_t> code, const Arch& arch) {
  code.resize(std::max<size_t>(code.size(), 32), arch.kind() == ArchKind::kX64 ? 0xCC : 0x00);
  return code;
}

const std::vector<Case>& cases() {
  const Arch* x = &x64Arch();
  const Arch* a = &arm64Arch();
  static const std::vector<Case> all = {
      // x64: relative branches, widened or made absolute
      {"x64_jcc_rel8", x, fromHex("74 05 b8 01 00 00 00 c3")},
      {"x64_jmp_rel8", x, fromHex("eb 03 90 90 90 c3")},
      {"x64_jmp_rel32", x, fromHex("e9 10 00 00 00 c3")},
      {"x64_jcc_rel32", x, fromHex("0f 85 40 00 00 00 c3")},
      {"x64_call_rel32_last", x, fromHex("e8 40 00 00 00 c3")},
      {"x64_call_to_next_then_pop", x, fromHex("e8 00 00 00 00 58 c3")},
      {"x64_jrcxz", x, fromHex("e3 10 48 89 c8 c3")},
      {"x64_loop", x, fromHex("e2 10 48 89 c8 c3")},
      {"x64_loopne", x, fromHex("e0 10 48 89 c8 c3")},
      // x64: RIP-relative operands wherever the displacement sits
      {"x64_mov_rip", x, fromHex("48 8b 05 10 00 00 00 c3")},
      {"x64_lea_rip", x, fromHex("48 8d 05 00 01 00 00 c3")},
      {"x64_rex_r8_rip", x, fromHex("4c 8b 05 00 01 00 00 c3")},
      {"x64_cmp_rip_trailing_imm32", x, fromHex("81 3d 10 00 00 00 44 33 22 11 c3")},
      {"x64_mov_rip_trailing_imm32", x, fromHex("c7 05 10 00 00 00 78 56 34 12 c3")},
      {"x64_cmp_rip_trailing_imm8", x, fromHex("80 3d 10 00 00 00 7f c3")},
      {"x64_sse_movups_rip", x, fromHex("0f 10 05 00 01 00 00 c3")},
      {"x64_vex_vmovups_rip", x, fromHex("c5 f8 10 05 00 01 00 00 c3")},
      {"x64_lock_add_rip", x, fromHex("f0 48 01 05 00 01 00 00 c3")},
      {"x64_push_rip", x, fromHex("ff 35 00 01 00 00 c3")},
      {"x64_pop_rip", x, fromHex("8f 05 00 01 00 00 c3")},
      {"x64_jmp_rip", x, fromHex("ff 25 00 01 00 00")},
      {"x64_call_rip_last", x, fromHex("ff 15 00 01 00 00 c3")},
      {"x64_call_register_last", x, fromHex("48 89 c8 ff d0 c3")},
      {"x64_endbr64_entry", x, fromHex("f3 0f 1e fa 48 89 c8 c3")},
      // x64: targets beyond +-2 GiB of the trampoline
      // (the redirect goes to a near replacement: 5 bytes; the trampoline lies 4 GiB away)
      {"x64_far_jcc_and_resume", x, fromHex("74 05 b8 01 00 00 00 c3"), 0x100000000ull, nullptr, 5},
      {"x64_far_call", x, fromHex("e8 40 00 00 00 c3"), 0x100000000ull, nullptr, 5},
      {"x64_far_rip_refused", x, fromHex("48 8b 05 10 00 00 00 c3"), 0x100000000ull, "out of +-2 GiB", 5},
      // x64: forward branches that stay inside the displaced span go to the same
      // instruction inside the trampoline, wherever relocation moved it
      {"x64_jmp_to_next", x, fromHex("eb 00 90 90 90 c3")},
      {"x64_jmp_rel8_over_displaced", x, fromHex("eb 01 90 90 90 90 c3")},
      {"x64_jcc_over_displaced", x, fromHex("74 02 31 c0 ff c0 c3")},
      {"x64_jmp_over_widened_jcc", x, fromHex("eb 02 74 10 31 c0 c3")},  // jz rel8 grows to rel32
      {"x64_jmp_over_rip_operand", x, fromHex("eb 07 48 8b 05 10 00 00 00 ff c0 c3"), 0x10000, nullptr, 10},
      {"x64_jcc_rel32_inside_far_patch", x, fromHex("0f 84 02 00 00 00 31 c0 ff c0 48 89 c8 90 c3"), 0x10000, nullptr,
       14},
      {"x64_loop_over_displaced", x, fromHex("e2 02 31 c0 ff c0 c3")},
      // x64: the checker maps the same pages on both sides (a call onto the trampoline's
      // page, outside the trampoline, must not fault only in the original)
      {"x64_call_onto_trampoline_page", x, fromHex("e8 fb 07 01 00 c3")},
      // x64: refusals
      {"x64_jcc_into_instruction_middle", x, fromHex("74 02 b8 01 00 00 00 c3"), 0x10000,
       "(not an instruction boundary)"},
      {"x64_jmp_backward_inside_span", x, fromHex("90 90 eb fc 90 c3"), 0x10000,
       "targets +0x0, inside the 5-byte displaced span"},
      {"x64_call_forward_inside_span", x, fromHex("e8 00 00 00 00 58 48 89 c8 90 90 90 90 90 c3"), 0x10000,
       "targets +0x5, inside the 14-byte displaced span", 14},
      {"x64_trampoline_over_call_target", x, fromHex("e8 fb ff 00 00 c3"), 0x10000, "which the function references"},
      {"x64_trampoline_over_rip_operand", x, fromHex("48 8b 05 f9 ff 00 00 c3"), 0x10000,
       "which the function references"},
      {"x64_branch_back_into_span", x, fromHex("b8 01 00 00 00 ff c8 75 f7 c3"), 0x10000,
       "inside the 5-byte displaced span"},
      {"x64_shorter_than_patch", x, fromHex("c3"), 0x10000, "shorter than the 5-byte patch"},
      {"x64_call_not_last", x, fromHex("ff d0 90 90 90 c3"), 0x10000, "not the last displaced instruction"},
      {"x64_xbegin", x, fromHex("c7 f8 00 00 00 00 c3"), 0x10000, "xbegin"},
      // Found by fuzz/RelocatorFuzzer: the emulator stops at hlt (and at a divide error),
      // the original in the span and the trampoline at its copy: the same instruction.
      {"x64_hlt_in_span_fuzz", x, fromHex("48 89 c8 f4 48 0f bc 05 f4 2f 3a 0f")},
      {"x64_div_in_span_fuzz", x, fromHex("f6 f6 f6 f6 f6 f6 f6 08 00 00 00 00 00 00 00")},
      {"x64_hlt_last_in_span_fuzz", x, fromHex("b6 f5 3e f9 f4 2f ff 0f 00 5b 10 40 01")},
      {"x64_enter_nested_fuzz", x, fromHex("48 89 f0 c8 48 0f 26 25 f4 2f ff ff c3 c4 cc cc"), 0x10000,
       "enter at +0x3 with nesting level 38"},
      {"x64_enter_level_1", x, fromHex("c8 10 00 01 c3 cc cc cc cc cc")},
      {"x64_x87_fnstenv_fuzz", x, fromHex("d9 36 d9 d9 48 89 c8 74 48 0d 00 05 f4 2f 3a 0f"), 0x10000,
       "x87 fnstenv at +0x0"},
      {"x64_iretd_fuzz", x, fromHex("f5 cf 3e 5b f6 f6 f6 ff ff ff ff ff ff ff f4 2f"), 0x10000,
       "iretd at +0x1: a far transfer"},
      {"x64_retf", x, fromHex("90 cb cc cc cc cc cc cc"), 0x10000, "ret at +0x1: a far transfer"},
      {"x64_far_call_indirect", x, fromHex("ff 18 c3 cc cc cc cc cc"), 0x10000, "call at +0x0: a far transfer"},
      // x64 stop-the-world: a call that is not last stays a call returning into the
      // trampoline. The return address it pushes differs by design; the code after it in
      // the trampoline must still be the code after it in the original (fuzz/RelocatorFuzzer
      // found the pushed address compared as a difference: call rbx; rcl ebx, cl).
      {"x64_call_register_not_last_returns_into_trampoline_fuzz", x, fromHex("ff d3 d3 d3 d3 d3 d3 d3 10 90 90 00 00"),
       0x10000, nullptr, 0, false, true},
      {"x64_call_rel32_not_last_returns_into_trampoline", x, fromHex("e8 40 00 00 00 48 89 c8 48 83 c0 01 48 31 d2 c3"),
       0x10000, nullptr, 14, false, true},
      // Found by fuzz/RelocatorFuzzer in a long run: popfq sets the trap flag from the stack.
      {"x64_popfq_fuzz", x, fromHex("00 41 00 5a 9d 5a 5a 5a 5a 5a 5a 5a 5a 5a 00 b7"), 0x10000, "popfq at +0x4"},
      {"x64_popfq_after_add_fuzz", x, fromHex("01 44 01 04 9d f6 00 ff ff 71 00 ff ff f6 33"), 0x10000,
       "popfq at +0x4"},
      // Found by the long run of fuzz/RelocatorFuzzer: a shift of memory by CL. With a
      // memory-write hook installed Unicorn 2.0.1 takes its CF from the PC, so the checker
      // compared two different emulations ("rflags 0x207 vs 0x206"); it hooks reads only.
      {"x64_shift_memory_by_cl_fuzz", x, fromHex("d3 ff 53 d3 2c d3 d3 d3 d3 10 90 90 00 16")},
      {"x64_sal_byte_memory_by_cl_fuzz", x, fromHex("d2 b6 ff 3a c1 40 0b 30 0d 00 00 f6 ff 30 2f")},
      {"x64_call_then_shift_memory_by_cl_then_jae_fuzz", x, fromHex("ff d7 d3 2e 73 74 72 74 61 62 90 00 00 00"),
       0x10000, nullptr, 0, false, true},
      // ... and a relative branch with an operand-size prefix, whose target AMD and Unicorn
      // truncate to 16 bits and Intel does not ("original fetch at 0xfba, trampoline ran").
      // ... and an hlt right before code Unicorn cannot translate (ff /3, register): the
      // emulator stops past the hlt, where the guard's exit is; that code did not run.
      {"x64_hlt_before_untranslatable_fuzz", x, fromHex("01 01 d2 00 f4 ff de ff 32"), 0x10000, nullptr, 0, false,
       true},
      {"x64_jb_with_operand_size_prefix_fuzz", x, fromHex("66 72 b7 72 b7 b7 7b 27 7b 27"), 0x10000,
       "operand-size prefix", 0, false, true},
      {"x64_jbe_with_operand_size_prefix_after_loopne_fuzz", x, fromHex("e0 60 66 3e 76 da 00 f6 10 61 62 00 00"),
       0x10000, "operand-size prefix"},
      {"x64_call_through_rsp", x, fromHex("48 89 c8 ff 54 24 08 c3"), 0x10000, "call through rsp"},
      // x64: RIP-relative accesses of the span itself read (or write) the patch once it is
      // in place; an address computed there is no access
      {"x64_load_of_the_span", x, fromHex("48 8b 05 f9 ff ff ff c3"), 0x10000, "overlapping the displaced span"},
      {"x64_store_into_the_span", x, fromHex("48 89 05 f9 ff ff ff c3"), 0x10000, "overlapping the displaced span"},
      {"x64_load_ending_in_the_span", x, fromHex("48 8b 05 f2 ff ff ff c3"), 0x10000, "overlapping the displaced span"},
      {"x64_load_just_before_the_span", x, fromHex("48 8b 05 f1 ff ff ff c3")},
      {"x64_lea_of_the_span", x, fromHex("48 8d 05 f9 ff ff ff c3")},
      // Arm64: PC-relative data
      {"arm64_adr", a, fromWords({0x10000800, 0xd65f03c0})},
      {"arm64_adrp", a, fromWords({0xb0000001, 0xd65f03c0})},
      {"arm64_ldr_w_literal", a, fromWords({0x18000802, 0xd65f03c0})},
      {"arm64_ldr_x_literal", a, fromWords({0x58000802, 0xd65f03c0})},
      {"arm64_ldrsw_literal", a, fromWords({0x98000802, 0xd65f03c0})},
      {"arm64_ldr_s_literal", a, fromWords({0x1c000802, 0xd65f03c0})},
      {"arm64_ldr_d_literal", a, fromWords({0x5c000802, 0xd65f03c0})},
      {"arm64_ldr_q_literal", a, fromWords({0x9c000802, 0xd65f03c0})},
      {"arm64_prfm_literal", a, fromWords({0xd8000800, 0xd65f03c0})},
      {"arm64_ldr_literal_far", a, fromWords({0x58000802, 0xd65f03c0}), 0x10000000, nullptr, 4},
      {"arm64_ldr_q_literal_far", a, fromWords({0x9c000802, 0xd65f03c0}), 0x10000000, nullptr, 4},
      {"arm64_prfm_literal_far", a, fromWords({0xd8000800, 0xd65f03c0}), 0x10000000, nullptr, 4},
      // Arm64: an unallocated FP16 encoding Unicorn 2.0.1 aborts the process translating
      // (the long fuzz run): the checker's engines stop before it, and both sides report
      // the invalid instruction hardware would raise.
      {"arm64_untranslatable_fp16_word_fuzz", a, fromWords({0x5e781b3a, 0x3a0b1b00})},
      // Arm64: branches
      {"arm64_b", a, fromWords({0x14000040, 0xd65f03c0})},
      {"arm64_bl_last", a, fromWords({0x94000040, 0xd65f03c0})},
      {"arm64_b_eq", a, fromWords({0x54000800, 0xd65f03c0})},
      {"arm64_b_al", a, fromWords({0x5400080e, 0xd65f03c0})},
      {"arm64_b_nv", a, fromWords({0x5400080f, 0xd65f03c0})},
      {"arm64_cbz", a, fromWords({0xb4000803, 0xd65f03c0})},
      {"arm64_cbnz_w", a, fromWords({0x35000803, 0xd65f03c0})},
      {"arm64_tbz", a, fromWords({0x36180804, 0xd65f03c0})},
      {"arm64_tbnz", a, fromWords({0x37180804, 0xd65f03c0})},
      {"arm64_tbz_out_of_reach", a, fromWords({0x36180804, 0xd65f03c0}), 0x100000},
      {"arm64_b_eq_far", a, fromWords({0x54000800, 0xd65f03c0}), 0x10000000, nullptr, 4},
      {"arm64_b_far", a, fromWords({0x14000040, 0xd65f03c0}), 0x10000000, nullptr, 4},
      {"arm64_bl_far", a, fromWords({0x94000040, 0xd65f03c0}), 0x10000000, nullptr, 4},
      // Arm64: hint entries relocate as they are
      {"arm64_bti_c_entry", a, fromWords({0xd503245f, 0xaa0103e0, 0xd65f03c0}), 0x10000, nullptr, 8},
      {"arm64_paciasp_entry", a, fromWords({0xd503233f, 0xaa0103e0, 0xd65f03c0}), 0x10000, nullptr, 8},
      // Arm64: forward branches inside the displaced span
      {"arm64_b_forward_inside", a, fromWords({0x14000002, 0xaa0103e0, 0x91000400, 0xd65f03c0}), 0x10000, nullptr, 12},
      {"arm64_b_eq_forward_inside", a, fromWords({0x54000040, 0xaa0103e0, 0x91000400, 0xd65f03c0}), 0x10000, nullptr,
       12},
      {"arm64_b_al_forward_inside", a, fromWords({0x5400004e, 0xaa0103e0, 0x91000400, 0xd65f03c0}), 0x10000, nullptr,
       12},
      {"arm64_cbz_forward_inside", a, fromWords({0xb4000043, 0xaa0103e0, 0x91000400, 0xd65f03c0}), 0x10000, nullptr,
       12},
      {"arm64_cbnz_w_forward_inside", a, fromWords({0x35000043, 0xaa0103e0, 0x91000400, 0xd65f03c0}), 0x10000, nullptr,
       12},
      {"arm64_tbz_forward_inside", a, fromWords({0x36180044, 0xaa0103e0, 0x91000400, 0xd65f03c0}), 0x10000, nullptr,
       12},
      {"arm64_tbnz_forward_inside", a, fromWords({0x37180044, 0xaa0103e0, 0x91000400, 0xd65f03c0}), 0x10000, nullptr,
       12},
      // cbz over a B that grows to LDR x16 + BR x16 (the trampoline is out of B's reach)
      {"arm64_cbz_over_widened_b", a, fromWords({0xb4000063, 0x14000040, 0xd503201f, 0x91000400, 0xd65f03c0}),
       0x10000000, nullptr, 16},
      // cbz over an ADR that becomes a literal load
      {"arm64_cbz_over_adr", a, fromWords({0xb4000043, 0x10000801, 0x91000400, 0xd65f03c0}), 0x10000, nullptr, 12},
      {"arm64_bl_onto_trampoline_page", a, fromWords({0x94004080, 0xd65f03c0})},
      // Arm64: refusals
      {"arm64_b_backward_inside_span", a, fromWords({0xd503201f, 0x17ffffff, 0xd65f03c0}), 0x10000,
       "targets +0x0, inside the 8-byte displaced span", 8},
      {"arm64_bl_forward_inside_span", a, fromWords({0x94000002, 0xd503201f, 0xd503201f, 0xd65f03c0}), 0x10000,
       "targets +0x8, inside the 12-byte displaced span", 12},
      {"arm64_trampoline_over_bl_target", a, fromWords({0x94004000, 0xd65f03c0}), 0x10000,
       "which the function references"},
      {"arm64_trampoline_over_ldr_literal", a, fromWords({0x58080002, 0xd65f03c0}), 0x10000,
       "which the function references"},
      {"arm64_bti_guarded_far_resume", a, fromWords({0xd503245f, 0xaa0103e0, 0xd65f03c0}), 0x10000000, "enforces BTI",
       4, true},
      {"arm64_no_scratch", a, fromWords({0xaa1103f0, 0xd65f03c0}), 0x10000000, "no free scratch register", 4},
      {"arm64_branch_back_into_span", a, fromWords({0xd503201f, 0x17ffffff, 0xd65f03c0}), 0x10000,
       "inside the 4-byte displaced span"},
      {"arm64_bl_not_last", a, fromWords({0x94000040, 0xd503201f, 0xd65f03c0}), 0x10000,
       "not the last displaced instruction", 8},
      // Arm64: a literal load of the span reads the patch once it is in place; PRFM reads nothing
      {"arm64_ldr_literal_of_the_next_displaced_word", a, fromWords({0x18000020, 0xd503201f, 0xd65f03c0}), 0x10000,
       "overlapping the displaced span (8 bytes)", 8},
      {"arm64_ldr_x_literal_ending_in_the_span", a, fromWords({0x58ffffe0, 0xd65f03c0}), 0x10000,
       "reads 0x140000ffc..0x140001004, overlapping the displaced span"},
      {"arm64_ldr_x_literal_just_before_the_span", a, fromWords({0x58ffffc0, 0xd65f03c0})},
      {"arm64_prfm_literal_of_the_span", a, fromWords({0xd8000000, 0xd65f03c0})},
      {"arm64_shorter_than_patch", a, fromWords({0xd65f03c0}), 0x10000, "shorter than the 8-byte patch", 8},
  };
  return all;
}

struct Built {
  TrampolineRequest request;
  Relocation relocation;
  std::vector<uint8_t> patch;
};

Built build(const Case& c) {
  const Relocator& relocator = relocatorFor(*c.arch);
  Built b;
  b.request.functionAddress = kEntry;
  b.request.function =
      c.refusal && std::string_view(c.refusal).starts_with("shorter") ? c.function : padded(c.function, *c.arch);
  b.request.trampolineAddress = kEntry + c.trampolineDistance;
  b.request.btiGuarded = c.bti;
  b.request.callsReturnIntoTrampoline = c.returnsIntoTrampoline;
  b.patch = relocator.redirect(kEntry, b.request.trampolineAddress);
  b.request.patchBytes = c.patchBytes ? c.patchBytes : static_cast<uint32_t>(b.patch.size());
  b.patch.resize(std::min<size_t>(b.patch.size(), b.request.function.size()));
  b.relocation = relocator.relocate(b.request);
  return b;
}

class Relocation_ : public ::testing::TestWithParam<Case> {};

TEST_P(Relocation_, RelocatesEquivalentlyOrRefusesWithAReason) {
  const Case& c = GetParam();
  const Built b = build(c);
  if (c.refusal) {
    ASSERT_FALSE(b.relocation.trampoline) << "expected a refusal: " << c.refusal;
    EXPECT_NE(b.relocation.refusal.find(c.refusal), std::string::npos) << b.relocation.refusal;
    return;
  }
  ASSERT_TRUE(b.relocation.trampoline) << b.relocation.refusal;
  auto check = checkTrampoline(*c.arch, b.request, *b.relocation.trampoline, b.patch, 128);
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->equivalent) << check->difference;
  EXPECT_EQ(check->states, 128u);
  EXPECT_EQ(b.relocation.trampoline->resumeAddress, kEntry + b.relocation.trampoline->displacedBytes);
}

INSTANTIATE_TEST_SUITE_P(Classes, Relocation_, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// The checker must catch what a relocator could get wrong.
TEST(TrampolineCheck, CatchesAWrongRipFixup) {
  const Built b = build({"rip", &x64Arch(), fromHex("48 8b 05 10 00 00 00 c3")});
  ASSERT_TRUE(b.relocation.trampoline);
  Trampoline broken = *b.relocation.trampoline;
  std::memcpy(&broken.bytes[3], "\x10\x00\x00\x00", 4);  // the original displacement, unfixed
  auto check = checkTrampoline(x64Arch(), b.request, broken, b.patch);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->equivalent);
  EXPECT_NE(check->difference.find("rax"), std::string::npos) << check->difference;
}

TEST(TrampolineCheck, CatchesAWrongBranchTargetAndAMissingInstruction) {
  const Built b = build({"jcc", &x64Arch(), fromHex("74 05 b8 01 00 00 00 c3")});
  ASSERT_TRUE(b.relocation.trampoline);
  Trampoline wrongTarget = *b.relocation.trampoline;
  wrongTarget.bytes[2] += 1;  // jz rel32 one byte off
  auto check = checkTrampoline(x64Arch(), b.request, wrongTarget, b.patch);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->equivalent);

  const Built arm = build({"adr", &arm64Arch(), fromWords({0x10000800, 0xaa0003e1, 0xd65f03c0}), 0x10000, nullptr, 8});
  ASSERT_TRUE(arm.relocation.trampoline);
  Trampoline dropped = *arm.relocation.trampoline;
  std::memcpy(&dropped.bytes[4], "\x1f\x20\x03\xd5", 4);  // mov x1, x0 replaced by nop
  check = checkTrampoline(arm64Arch(), arm.request, dropped, arm.patch);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->equivalent);
  EXPECT_NE(check->difference.find("x1"), std::string::npos) << check->difference;
}

// Where the displaced code continues need not be code, and the checker does not run it:
// Unicorn 2.0.1 aborts the whole process (tcg.c: "tcg fatal error") translating `ff /3`
// or `ff /5` with a register operand, such as the `ff ed` the call below lands on, and
// random page contents hold such bytes (the x64 property hit them about once in 15,000
// cases). Both sides must stop at the call's target without translating it.
TEST(TrampolineCheck, StopsWhereTheCodeContinuesWithoutTranslatingIt) {
  const Built b = build({"call", &x64Arch(), fromHex("e8 00 00 00 00 ff ed c3")});  // call +0; ljmp ebp (invalid)
  ASSERT_TRUE(b.relocation.trampoline) << b.relocation.refusal;
  auto check = checkTrampoline(x64Arch(), b.request, *b.relocation.trampoline, b.patch, 16);
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->equivalent) << check->difference;
  EXPECT_EQ(check->states, 16u);
}

// A plain register load, copied as it is: in state 23 of seed 1, x15 = entry + 63, so the
// original reads its own first byte (0xe1) and the trampoline run the redirect's (0x00).
// That compares the patch with what it replaced, not the relocation (the copied load reads
// the same bytes from either place): the checker skips the state instead of calling the
// trampoline a mismatch ("state 23: x1 0xe1 vs 0x0").
TEST(TrampolineCheck, SkipsAStateWhoseRegistersPointTheOriginalAtThePatchedEntry) {
  const Built b = build({"ldurb", &arm64Arch(), fromWords({0x385C11E1, 0xd65f03c0})});  // ldurb w1, [x15, #-63]
  ASSERT_TRUE(b.relocation.trampoline) << b.relocation.refusal;
  auto check = checkTrampoline(arm64Arch(), b.request, *b.relocation.trampoline, b.patch, 24);
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->equivalent) << check->difference;
  EXPECT_EQ(check->states, 24u);
  EXPECT_EQ(check->skipped, 1u);
}

// The same state with a store: the original writes its own first byte. Writes are found
// by comparing the bytes after the run (a write hook would change how Unicorn computes
// the flags of memory shifts), so the state is skipped all the same.
TEST(TrampolineCheck, SkipsAStateWhoseStoreHitsThePatchedEntry) {
  const Built b = build({"sturb", &arm64Arch(), fromWords({0x381C11E1, 0xd65f03c0})});  // sturb w1, [x15, #-63]
  ASSERT_TRUE(b.relocation.trampoline) << b.relocation.refusal;
  auto check = checkTrampoline(arm64Arch(), b.request, *b.relocation.trampoline, b.patch, 24);
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->equivalent) << check->difference;
  EXPECT_EQ(check->skipped, 1u);
}

// ...but a trampoline whose displaced code names the patched bytes itself is compared in
// every state: mov rax, [rip-7] relocated without refusing (the displacement fixed up to
// the same target) reads the redirect where the original read its own bytes.
TEST(TrampolineCheck, ComparesEveryStateWhenTheDisplacedCodeNamesThePatchedEntry) {
  const Built b = build({"rip", &x64Arch(), fromHex("48 8b 05 10 00 00 00 c3")});
  ASSERT_TRUE(b.relocation.trampoline);
  TrampolineRequest request = b.request;
  std::memcpy(&request.function[3], "\xf9\xff\xff\xff", 4);  // mov rax, [rip-7]: the entry
  ASSERT_FALSE(x64Relocator().relocate(request).trampoline);
  Trampoline unrefused = *b.relocation.trampoline;
  const auto disp = static_cast<int32_t>(kEntry - (unrefused.address + 7));
  std::memcpy(&unrefused.bytes[3], &disp, 4);
  auto check = checkTrampoline(x64Arch(), request, unrefused, b.patch);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->equivalent);
  EXPECT_NE(check->difference.find("rax"), std::string::npos) << check->difference;
  EXPECT_EQ(check->skipped, 0u);
}

// A call that returns into the trampoline (x64 stop-the-world): the run from the entry
// stops at the callee, so the code after the call is compared from its own boundary; and
// only the return address the relocator declares is compared as a pair.
TEST(TrampolineCheck, ComparesTheCodeAfterACallThatReturnsIntoTheTrampoline) {
  const Built b = build({"call", &x64Arch(), fromHex("e8 40 00 00 00 48 89 c8 48 83 c0 01 48 31 d2 c3"), 0x10000,
                         nullptr, 14, false, true});
  ASSERT_TRUE(b.relocation.trampoline) << b.relocation.refusal;
  const Trampoline& good = *b.relocation.trampoline;
  ASSERT_GE(good.boundaries.size(), 2u);
  auto check = checkTrampoline(x64Arch(), b.request, good, b.patch, 16);
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->equivalent) << check->difference;

  Trampoline broken = good;  // mov rax, rcx after the call becomes mov rax, rdx
  const uint32_t afterCall = good.boundaries[1].second;
  ASSERT_EQ(broken.bytes[afterCall + 2], 0xc8);
  broken.bytes[afterCall + 2] = 0xd0;
  check = checkTrampoline(x64Arch(), b.request, broken, b.patch, 16);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->equivalent);
  EXPECT_NE(check->difference.find("from +0x5: rax"), std::string::npos) << check->difference;

  Trampoline undeclared = good;  // the relocator's declaration of the pushed return address dropped
  ASSERT_EQ(undeclared.callReturns.size(), 1u);
  undeclared.callReturns.clear();
  check = checkTrampoline(x64Arch(), b.request, undeclared, b.patch, 16);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->equivalent);
  EXPECT_NE(check->difference.find("memory at 0x7f"), std::string::npos) << check->difference;
}

TEST(TrampolineCheck, IgnoresOnlyTheDeclaredScratchRegister) {
  const Built b = build({"far", &arm64Arch(), fromWords({0x14000040, 0xd65f03c0}), 0x10000000, nullptr, 4});
  ASSERT_TRUE(b.relocation.trampoline);
  EXPECT_EQ(b.relocation.trampoline->scratch, std::vector<int>{UC_ARM64_REG_X16});
  Trampoline undeclared = *b.relocation.trampoline;
  undeclared.scratch.clear();  // now x16 must match too, and it cannot
  auto check = checkTrampoline(arm64Arch(), b.request, undeclared, b.patch);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->equivalent);
  EXPECT_NE(check->difference.find("x16"), std::string::npos) << check->difference;
}

// `hph trampoline --all` over every corpus image: nothing mismatches.
TEST(TrampolineCli, SweepsEveryCorpusImageWithoutMismatch) {
  for (const auto& entry : std::filesystem::directory_iterator(std::string(HPH_CORPUS_DIR) + "/images")) {
    const CommandResult r = runHph({"trampoline", entry.path().string(), "--all", "--json", "--states", "16"});
    ASSERT_EQ(r.exitCode, 0) << entry.path() << r.out << r.err;
    const auto results = nlohmann::json::parse(r.out);
    ASSERT_TRUE(results.is_array());
    size_t relocated = 0;
    for (const auto& f : results) {
      EXPECT_NE(f["verdict"], "mismatch") << f.dump();
      relocated += f["verdict"] == "relocated";
      for (const char* key : {"verdict", "reason", "function", "address", "patch", "trampoline", "resume_address"})
        EXPECT_TRUE(f.contains(key)) << key;
    }
    EXPECT_GT(relocated, 0u) << entry.path();
  }
}

TEST(TrampolineCli, HexModeAndErrors) {
  const CommandResult ok = runHph({"trampoline", "--arch", "x64", "--hex", "4883ec28c3", "--json"});
  ASSERT_EQ(ok.exitCode, 0) << ok.err;
  const auto j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["verdict"], "relocated");
  EXPECT_EQ(j["address"], 0x140001000u);
  EXPECT_EQ(j["patch"]["bytes"].get<std::string>().size(), 10u);  // e9 rel32
  EXPECT_EQ(runHph({"trampoline", "--arch", "x64", "--hex", "4883ec28c3", "--protocol", "b-direct"}).exitCode, 2);
  EXPECT_EQ(runHph({"trampoline", "--arch", "mips", "--hex", "00"}).exitCode, 2);
  EXPECT_EQ(runHph({"trampoline", "--arch", "x64", "--hex", "zz"}).exitCode, 2);
  EXPECT_EQ(runHph({"trampoline", corpusImage("basics.x64.dll"), "--function", "nope"}).exitCode, 2);
  const CommandResult refused =
      runHph({"trampoline", "--arch", "arm64", "--hex", "c0035fd6", "--json", "--protocol", "stop-the-world"});
  EXPECT_EQ(refused.exitCode, 0) << "a refusal is a verdict, not an error";
}

// A branch from a displaced instruction to a later one: from --hex to a verdict.
TEST(TrampolineCli, ForwardBranchesInsideTheSpanRelocate) {
  for (const char* hex : {"eb00909090c3", "740231c0ffc0c3", "eb02741031c0c3"}) {
    const CommandResult r = runHph({"trampoline", "--arch", "x64", "--hex", hex, "--json"});
    ASSERT_EQ(r.exitCode, 0) << hex << r.out << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["verdict"], "relocated") << hex << " " << j.dump();
  }
  // jmp to next: the rel8 becomes a rel32 to the next relocated instruction (e9 00000000).
  const auto next =
      nlohmann::json::parse(runHph({"trampoline", "--arch", "x64", "--hex", "eb00909090c3", "--json"}).out);
  EXPECT_TRUE(next["trampoline"]["bytes"].get<std::string>().starts_with("e900000000909090")) << next.dump();
  // Into the middle of an instruction: still refused, saying why.
  const CommandResult middle = runHph({"trampoline", "--arch", "x64", "--hex", "7402b801000000c3"});
  EXPECT_EQ(middle.exitCode, 0) << middle.err;
  EXPECT_NE(middle.out.find("refused: branch at +0x0 targets +0x4, inside the 7-byte displaced span (not an "
                            "instruction boundary)"),
            std::string::npos)
      << middle.out;
}

// With --hex the trampoline would go 1 MiB after the function (0x140001000 + 0x100000).
// Each function below references exactly that address; the trampoline must go elsewhere
// and the verdict be `relocated`, not `mismatch`.
TEST(TrampolineCli, PlacementAvoidsWhatTheDisplacedCodeReferences) {
  constexpr uint64_t kDefaultTrampoline = 0x140101000;
  struct Referencing {
    const char* arch;
    const char* hex;
    uint64_t begin, end;  // what it references
  };
  const Referencing cases[] = {
      {"x64", "e8fbff0f00c3", kDefaultTrampoline, kDefaultTrampoline + 1},            // call rel32 to it
      {"x64", "488b05f9ff0f00c3", kDefaultTrampoline, kDefaultTrampoline + 8},        // mov rax, [rip] from it
      {"x64", "c705f6ff0f0078563412c3", kDefaultTrampoline, kDefaultTrampoline + 4},  // mov dword [rip], imm32
      {"arm64", "00000494c0035fd6", kDefaultTrampoline, kDefaultTrampoline + 4},      // bl to it
      // ldr x2, literal: the farthest it reaches (+1 MiB - 4), 8 bytes over its start
      {"arm64", "e2ff7f58c0035fd6", kDefaultTrampoline - 4, kDefaultTrampoline + 4},
  };
  for (const Referencing& c : cases) {
    const CommandResult r = runHph({"trampoline", "--arch", c.arch, "--hex", c.hex, "--json"});
    EXPECT_EQ(r.exitCode, 0) << c.hex << r.out << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["verdict"], "relocated") << c.hex << " " << j.dump();
    if (!j["trampoline"].is_object()) continue;
    const uint64_t at = j["trampoline"]["address"].get<uint64_t>();
    const uint64_t size = j["trampoline"]["bytes"].get<std::string>().size() / 2;
    EXPECT_TRUE(at >= c.end || at + size <= c.begin) << c.hex << ": trampoline at " << at << " over " << c.begin;
  }
}

}  // namespace
}  // namespace hph::test
