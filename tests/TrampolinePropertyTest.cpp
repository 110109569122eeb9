// Random instruction sequences at a function entry: whatever the relocator does must be a
// refusal or a trampoline equivalent under differential execution. x64 sequences are
// built through the Zydis encoder; Arm64 ones from random encodings (biased towards the
// PC-relative classes), kept when Unicorn executes them (Capstone 4 rejects LSE, LDAPR
// and PAC, so it cannot be the filter).
#include <Zydis/Zydis.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>

#include "patch/TrampolineCheck.h"
#include "tests/UnicornProbe.h"

namespace hph {
namespace {

constexpr uint64_t kEntry = 0x140001000;
constexpr uint64_t kTrampoline = kEntry + 0x10000;

// ---- x64 ------------------------------------------------------------------------------

const std::vector<ZydisRegister> kRegisters = {ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX,
                                               ZYDIS_REGISTER_RBX, ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_RSI,
                                               ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_R8,  ZYDIS_REGISTER_R9,
                                               ZYDIS_REGISTER_R12, ZYDIS_REGISTER_R15};
const std::vector<ZydisMnemonic> kConditions = {ZYDIS_MNEMONIC_JZ,   ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JB,
                                                ZYDIS_MNEMONIC_JNBE, ZYDIS_MNEMONIC_JL,  ZYDIS_MNEMONIC_JNLE,
                                                ZYDIS_MNEMONIC_JS,   ZYDIS_MNEMONIC_JO};

ZydisEncoderRequest request(ZydisMnemonic mnemonic) {
  ZydisEncoderRequest r;
  std::memset(&r, 0, sizeof r);
  r.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  r.mnemonic = mnemonic;
  return r;
}
void reg(ZydisEncoderRequest& r, ZydisRegister value) {
  r.operands[r.operand_count].type = ZYDIS_OPERAND_TYPE_REGISTER;
  r.operands[r.operand_count++].reg.value = value;
}
void ripMemory(ZydisEncoderRequest& r, int64_t displacement) {
  auto& op = r.operands[r.operand_count++];
  op.type = ZYDIS_OPERAND_TYPE_MEMORY;
  op.mem.base = ZYDIS_REGISTER_RIP;
  op.mem.displacement = displacement;
  op.mem.size = 8;
}
void imm(ZydisEncoderRequest& r, int64_t value) {
  r.operands[r.operand_count].type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
  r.operands[r.operand_count++].imm.s = value;
}

rc::Gen<std::vector<uint8_t>> x64Instruction() {
  return rc::gen::exec([] {
    const ZydisRegister a = *rc::gen::elementOf(kRegisters);
    const ZydisRegister b = *rc::gen::elementOf(kRegisters);
    const int64_t disp = *rc::gen::inRange<int64_t>(-0x2000, 0x2000);
    const int64_t rel = *rc::gen::inRange<int64_t>(-0x30, 0x60);
    ZydisEncoderRequest r;
    switch (*rc::gen::inRange(0, 10)) {
    case 0:
      r = request(ZYDIS_MNEMONIC_MOV);
      reg(r, a);
      ripMemory(r, disp);
      break;
    case 1:
      r = request(ZYDIS_MNEMONIC_ADD);
      reg(r, a);
      reg(r, b);
      break;
    case 2:
      r = request(ZYDIS_MNEMONIC_LEA);
      reg(r, a);
      ripMemory(r, disp);
      break;
    case 3:
      r = request(ZYDIS_MNEMONIC_CMP);
      ripMemory(r, disp);
      imm(r, *rc::gen::inRange(-128, 127));
      break;
    case 4:
      r = request(*rc::gen::elementOf(kConditions));
      imm(r, rel);
      r.branch_type = *rc::gen::element(ZYDIS_BRANCH_TYPE_SHORT, ZYDIS_BRANCH_TYPE_NEAR);
      break;
    case 5:
      r = request(ZYDIS_MNEMONIC_JMP);
      imm(r, rel);
      r.branch_type = ZYDIS_BRANCH_TYPE_NEAR;
      break;
    case 6:
      r = request(ZYDIS_MNEMONIC_CALL);
      imm(r, rel * 16);
      r.branch_type = ZYDIS_BRANCH_TYPE_NEAR;
      break;
    case 7:
      r = request(*rc::gen::element(ZYDIS_MNEMONIC_PUSH, ZYDIS_MNEMONIC_POP));
      reg(r, a);
      break;
    case 8:
      r = request(ZYDIS_MNEMONIC_XOR);
      reg(r, a);
      imm(r, *rc::gen::arbitrary<int32_t>());
      break;
    default:
      r = request(ZYDIS_MNEMONIC_MOV);
      ripMemory(r, disp);
      reg(r, a);
      break;
    }
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    ZyanUSize length = sizeof bytes;
    RC_PRE(ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&r, bytes, &length)));
    return std::vector<uint8_t>(bytes, bytes + length);
  });
}

// ---- Arm64 ----------------------------------------------------------------------------

// Does Unicorn (Arm64, max CPU) execute this word as an instruction? A word that kills
// the probe's child (Unicorn 2.0.1 aborts translating some unallocated encodings, such as
// 0x0ec02fd8) is no instruction here.
bool unicornExecutes(uint32_t word) { return test::probeArm64Word(word) == test::WordOutcome::kExecutes; }

rc::Gen<uint32_t> arm64Word() {
  return rc::gen::exec([] {
    const uint32_t rd = *rc::gen::inRange(0, 31);
    const uint32_t imm19 = *rc::gen::inRange<int32_t>(-0x400, 0x400) & 0x7FFFF;
    uint32_t w = 0;
    switch (*rc::gen::inRange(0, 10)) {
    case 0: w = 0x10000000u | (*rc::gen::inRange(0, 4) << 29) | (imm19 << 5) | rd; break;           // adr
    case 1: w = 0x90000000u | (*rc::gen::inRange(0, 4) << 29) | ((imm19 & 0xFF) << 5) | rd; break;  // adrp
    case 2: {  // ldr literal: W, X, SW, PRFM, S, D, Q
      const uint32_t variant = *rc::gen::inRange(0, 7);
      const uint32_t opc = variant < 4 ? variant : variant - 4;
      w = 0x18000000u | (opc << 30) | ((variant >= 4) << 26) | (imm19 << 5) | rd;
      break;
    }
    case 3: w = 0x14000000u | (*rc::gen::inRange<int32_t>(-0x400, 0x400) & 0x3FFFFFF); break;  // b
    case 4: w = 0x54000000u | (imm19 << 5) | *rc::gen::inRange(0, 16); break;                  // b.cond
    case 5:
      w = 0x34000000u | (*rc::gen::inRange(0, 2) << 31) | (*rc::gen::inRange(0, 2) << 24) | (imm19 << 5) | rd;
      break;
    case 6:
      w = 0x36000000u | (*rc::gen::inRange(0, 64) << 19) | (*rc::gen::inRange(0, 2) << 24) | ((imm19 & 0x3FFF) << 5) |
          rd;
      break;  // tbz/tbnz
    default: w = *rc::gen::arbitrary<uint32_t>(); break;
    }
    RC_PRE(unicornExecutes(w));
    return w;
  });
}

// ---- the property -----------------------------------------------------------------------

void relocatedIsEquivalent(const Arch& arch, std::vector<uint8_t> function, uint32_t patchBytes) {
  const Relocator& relocator = relocatorFor(arch);
  TrampolineRequest request;
  request.functionAddress = kEntry;
  request.function = std::move(function);
  request.patchBytes = patchBytes;
  request.trampolineAddress = kTrampoline;
  const Relocation relocation = relocator.relocate(request);
  RC_TAG(relocation.trampoline ? "relocated" : "refused");
  if (!relocation.trampoline) {
    RC_ASSERT(!relocation.refusal.empty());
    return;
  }
  std::vector<uint8_t> patch = relocator.redirect(kEntry, kTrampoline);
  patch.resize(std::min<size_t>(patch.size(), request.function.size()));
  auto check = checkTrampoline(arch, request, *relocation.trampoline, patch, 16);
  RC_ASSERT(check.ok());
  if (!check->equivalent) RC_FAIL(check->difference);
}

RC_GTEST_PROP(TrampolineProperty, X64RandomSequencesRelocateEquivalentlyOrRefuse, ()) {
  const auto instructions =
      *rc::gen::container<std::vector<std::vector<uint8_t>>>(*rc::gen::inRange<size_t>(1, 5), x64Instruction());
  std::vector<uint8_t> function;
  for (const auto& i : instructions) function.insert(function.end(), i.begin(), i.end());
  function.push_back(0xC3);
  function.resize(function.size() + 16, 0xCC);
  relocatedIsEquivalent(x64Arch(), function, *rc::gen::element<uint32_t>(2, 5));
}

RC_GTEST_PROP(TrampolineProperty, Arm64RandomSequencesRelocateEquivalentlyOrRefuse, ()) {
  const auto words = *rc::gen::container<std::vector<uint32_t>>(*rc::gen::inRange<size_t>(1, 4), arm64Word());
  std::vector<uint8_t> function(words.size() * 4 + 8, 0);
  std::memcpy(function.data(), words.data(), words.size() * 4);
  const uint32_t ret = 0xD65F03C0;
  std::memcpy(function.data() + words.size() * 4, &ret, 4);
  relocatedIsEquivalent(arm64Arch(), function, *rc::gen::element<uint32_t>(4, 8));
}

// ---- regressions: counterexamples the properties found, replayed as plain tests --------

// What one property case does (relocate, then refuse or check), with gtest assertions.
void expectEquivalentOrRefused(const Arch& arch, std::vector<uint8_t> function, uint32_t patchBytes,
                               const char* refusal) {
  const Relocator& relocator = relocatorFor(arch);
  TrampolineRequest request;
  request.functionAddress = kEntry;
  request.function = std::move(function);
  request.patchBytes = patchBytes;
  request.trampolineAddress = kTrampoline;
  const Relocation relocation = relocator.relocate(request);
  if (relocation.trampoline) {
    std::vector<uint8_t> patch = relocator.redirect(kEntry, kTrampoline);
    patch.resize(std::min<size_t>(patch.size(), request.function.size()));
    auto check = checkTrampoline(arch, request, *relocation.trampoline, patch, 16);
    ASSERT_TRUE(check.ok()) << check.error().message;
    EXPECT_TRUE(check->equivalent) << check->difference;
  }
  EXPECT_FALSE(relocation.trampoline) << "relocated; expected a refusal containing: " << refusal;
  EXPECT_NE(relocation.refusal.find(refusal), std::string::npos) << relocation.refusal;
}

// seed=17044175480140644582: adr x0, #-0x1000; ldr x0, #-8 with an 8-byte patch. The
// literal load at +4 reads entry-4..entry+4: its upper half is the entry's own first
// word, which the patch overwrites. The original reads the ADR (0x10ff8000), the
// trampoline the redirect's B (0x14004000): no relocation can give the original bytes back,
// so the relocator must refuse.
TEST(TrampolinePropertyRegression, Arm64LiteralLoadReadingTheOverwrittenEntryIsRefused) {
  const uint32_t words[] = {0x10FF8000, 0x58FFFFC0, 0xD65F03C0, 0, 0};  // adr; ldr literal; ret; padding
  std::vector<uint8_t> function(16);
  std::memcpy(function.data(), words, 16);
  expectEquivalentOrRefused(arm64Arch(), function, 8, "overlapping the displaced span");
}

// seed=7946284853790509113 (10,000 cases): the generator's filter met 0x0ec02fd8, an
// unallocated FP16 three-same encoding, and Unicorn aborted the test binary (tcg:
// "disas_simd_three_reg_same_fp16: ... g_assert_not_reached"). The filter must say no.
TEST(TrampolinePropertyRegression, Arm64FilterRejectsAWordUnicornAbortsOn) {
  EXPECT_FALSE(unicornExecutes(0x0EC02FD8));
  EXPECT_TRUE(unicornExecutes(0xAA0103E0));   // mov x0, x1
  EXPECT_FALSE(unicornExecutes(0x00000000));  // udf #0
}

// The x64 sibling: mov rax, [rip-7] reads its own first 8 bytes, 5 of which the jmp rel32
// overwrites.
TEST(TrampolinePropertyRegression, X64RipRelativeLoadReadingTheOverwrittenEntryIsRefused) {
  std::vector<uint8_t> function = {0x48, 0x8B, 0x05, 0xF9, 0xFF, 0xFF, 0xFF, 0xC3};
  function.resize(function.size() + 16, 0xCC);
  expectEquivalentOrRefused(x64Arch(), function, 5, "overlapping the displaced span");
}

}  // namespace
}  // namespace hph
