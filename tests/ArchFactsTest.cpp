// Golden rows for the architectural facts the layers above the backends ask (Arch::facts(),
// branchTargetsEnforced, StateRegister::fixedOnes, redirectFor) instead
// of which architecture it is: one row per fact with each backend's answer, so a wrong
// answer fails here rather than as a subtly different check somewhere else. Where the
// backend can confirm a fact itself (decoding, padding, interrupt names), it must agree.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "emu/core/Arch.h"
#include "patch/Redirect.h"
#include "patch/Trampoline.h"

namespace hph {
namespace {

std::string hexBytes(std::span<const uint8_t> bytes) {
  static const char* const kDigits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    if (!out.empty()) out += ' ';
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::string yesNo(bool b) { return b ? "true" : "false"; }

std::string formatName(RuntimeFunctionFormat f) {
  switch (f) {
  case RuntimeFunctionFormat::kBeginEndUnwindInfo: return "begin-end-unwind-info";
  case RuntimeFunctionFormat::kBeginPackedUnwind: return "begin-packed-unwind";
  }
  return "?";
}

// Registers with bits that always read as 1: "name=mask ...".
std::string fixedOnes(const Arch& arch) {
  std::string out;
  for (const StateRegister& r : arch.stateRegisters())
    if (r.fixedOnes) out += std::string(out.empty() ? "" : " ") + r.name + "=" + std::to_string(r.fixedOnes);
  return out;
}

struct FactRow {
  const char* fact;
  std::function<std::string(const Arch&)> answer;
  std::string x64;
  std::string arm64;
};

const std::vector<FactRow>& factRows() {
  static const std::vector<FactRow> rows = {
      {"fixedInstructionBytes", [](const Arch& a) { return std::to_string(a.facts().fixedInstructionBytes); }, "0",
       "4"},
      {"paddingProbeBytes", [](const Arch& a) { return std::to_string(a.facts().paddingProbeBytes); }, "2", "4"},
      {"runtimeFunctionFormat", [](const Arch& a) { return formatName(a.facts().runtimeFunctionFormat); },
       "begin-end-unwind-info", "begin-packed-unwind"},
      {"singleByteBreakpoint",
       [](const Arch& a) {
         const auto& b = a.facts().singleByteBreakpoint;
         return b ? hexBytes(std::span(&b->opcode, 1)) + " raises " + std::to_string(b->interrupt)
                  : std::string("none");
       },
       "cc raises 3", "none"},
      {"undefinedInstructionInterrupt",
       [](const Arch& a) { return std::to_string(a.facts().undefinedInstructionInterrupt); }, "6", "1"},
      {"returnAddressStackBytes", [](const Arch& a) { return std::to_string(a.facts().returnAddressStackBytes); }, "8",
       "0"},
      {"linkRegister",
       [](const Arch& a) {
         const auto& r = a.facts().linkRegister;
         return r ? std::to_string(*r) : std::string("none");
       },
       "none", std::to_string(UC_ARM64_REG_X30)},
      {"integerArgumentRegisters", [](const Arch& a) { return std::to_string(a.facts().integerArgumentRegisters); },
       "4", "8"},
      {"fetchCoherentWithStores", [](const Arch& a) { return yesNo(a.facts().fetchCoherentWithStores); }, "true",
       "false"},
      {"concurrentModificationRestricted",
       [](const Arch& a) { return yesNo(a.facts().concurrentModificationRestricted); }, "false", "true"},
      {"contextSynchronizingInstruction",
       [](const Arch& a) { return hexBytes(a.facts().contextSynchronizingInstruction); }, "", "df 3f 03 d5"},
      {"StateRegister::fixedOnes", fixedOnes, "rflags=2", ""},
  };
  return rows;
}

TEST(ArchFacts, EachBackendAnswersEachFact) {
  for (const FactRow& row : factRows()) {
    EXPECT_EQ(row.answer(x64Arch()), row.x64) << "x64 " << row.fact;
    EXPECT_EQ(row.answer(arm64Arch()), row.arm64) << "arm64 " << row.fact;
  }
}

// The facts agree with what the same backend decodes and names.
TEST(ArchFacts, AgreeWithTheBackendsOwnDecoding) {
  for (const Arch* arch : {&x64Arch(), &arm64Arch()}) {
    const ArchFacts& f = arch->facts();
    SCOPED_TRACE(std::string(arch->name()));
    if (f.fixedInstructionBytes) {
      // Every word is one instruction, even one that does not decode.
      for (uint32_t word : {0xD503201Fu, 0x00000000u, 0xFFFFFFFFu}) {
        uint8_t b[4];
        std::memcpy(b, &word, 4);
        EXPECT_EQ(arch->decode(b, 0x1000).length, f.fixedInstructionBytes) << std::hex << word;
      }
    }
    if (f.singleByteBreakpoint) {
      const DecodedInstruction bp = arch->decode(std::span(&f.singleByteBreakpoint->opcode, 1), 0x1000);
      EXPECT_TRUE(bp.valid);
      EXPECT_EQ(bp.length, 1u);
      EXPECT_NE(arch->describeInterrupt(f.singleByteBreakpoint->interrupt).find("breakpoint"), std::string::npos);
    }
    const std::string undefined = arch->describeInterrupt(f.undefinedInstructionInterrupt);
    EXPECT_TRUE(undefined.find("invalid") != std::string::npos || undefined.find("undefined") != std::string::npos)
        << undefined;
    if (!f.contextSynchronizingInstruction.empty()) {
      EXPECT_EQ(arch->decode(f.contextSynchronizingInstruction, 0x1000).text, "isb");
    }
    // A probe's worth of the padding lld emits (int3 / udf #0) is padding.
    const std::vector<uint8_t> padding(f.paddingProbeBytes, arch->kind() == ArchKind::kX64 ? 0xCC : 0x00);
    EXPECT_TRUE(arch->isPadding(padding));
    // Return address in a register exactly when a call pushes nothing.
    EXPECT_EQ(f.linkRegister.has_value(), f.returnAddressStackBytes == 0);
    EXPECT_LE(f.integerArgumentRegisters, kMaxCallArgs);
  }
}

struct BtiRow {
  const char* name;
  const Arch* arch;
  std::vector<uint8_t> code;
  bool enforced;
};

std::vector<uint8_t> word(uint32_t w) {
  std::vector<uint8_t> out(4);
  std::memcpy(out.data(), &w, 4);
  return out;
}

TEST(ArchFacts, BranchTargetsEnforcedFromTheFunctionsFirstInstruction) {
  const Arch* x = &x64Arch();
  const Arch* a = &arm64Arch();
  const BtiRow rows[] = {
      {"arm64 bti", a, word(0xD503241F), true},
      {"arm64 bti c", a, word(0xD503245F), true},
      {"arm64 bti j", a, word(0xD503249F), true},
      {"arm64 bti jc", a, word(0xD50324DF), true},
      {"arm64 nop", a, word(0xD503201F), false},
      {"arm64 paciasp", a, word(0xD503233F), false},
      {"arm64 truncated bti c", a, {0x5F, 0x24, 0x03}, false},
      {"arm64 empty", a, {}, false},
      {"x64 endbr64 (IBT not enforced in user mode)", x, {0xF3, 0x0F, 0x1E, 0xFA}, false},
      {"x64 bti c's bytes", x, word(0xD503245F), false},
  };
  for (const BtiRow& r : rows) EXPECT_EQ(r.arch->branchTargetsEnforced(r.code), r.enforced) << r.name;
}

struct RedirectRow {
  const Relocator* relocator;
  std::optional<ProtocolKind> protocol;  // nullopt: the architecture's default redirect
  uint64_t target;
  std::optional<std::string> bytes;  // nullopt: not one of the relocator's protocols
  uint32_t patchBytes = 0;
};

TEST(RelocatorFacts, EachProtocolsEntryRedirect) {
  constexpr uint64_t kEntry = 0x140001000;
  const Relocator* x = &x64Relocator();
  const Relocator* a = &arm64Relocator();
  using P = ProtocolKind;
  const RedirectRow rows[] = {
      {x, std::nullopt, kEntry + 0x1000, "e9 fb 0f 00 00", 5},  // naive-jmp5
      {x, P::kNaiveJmp5, kEntry + 0x1000, "e9 fb 0f 00 00", 5},
      {x, P::kPaddingShortJmp, kEntry + 0x1000, "eb f9", 2},
      {x, P::kInt3ThreeStep, kEntry + 0x1000, "e9 fb 0f 00 00", 5},
      {x, P::kStopTheWorld, kEntry + 0x1000, "e9 fb 0f 00 00", 5},
      {x, P::kBDirect, kEntry + 0x1000, std::nullopt},
      {a, std::nullopt, kEntry + 0x1000, "00 04 00 14", 4},  // b-direct: b +0x1000
      {a, P::kBDirect, kEntry + 0x1000, "00 04 00 14", 4},
      {a, P::kVeneer, kEntry + 0x1000, "00 04 00 14", 4},
      {a, P::kLiteralSwap, kEntry + 0x1000, "00 04 00 14", 4},
      {a, P::kStopTheWorld, kEntry + 0x1000, "00 04 00 14", 4},
      // Beyond B's +-128 MiB: ldr x16, #8; br x16; the 64-bit target.
      {a, P::kBDirect, kEntry + 0x10000000, "50 00 00 58 00 02 1f d6 00 10 00 50 01 00 00 00", 16},
      {a, P::kNaiveJmp5, kEntry + 0x1000, std::nullopt},
      {a, P::kPaddingShortJmp, kEntry + 0x1000, std::nullopt},
  };
  for (const RedirectRow& r : rows) {
    const ArchKind arch = r.relocator->arch().kind();
    const ProtocolKind protocol = r.protocol.value_or(defaultRedirectProtocol(arch));
    SCOPED_TRACE(std::string(r.relocator->arch().name()) + " '" + std::string(protocolName(protocol)) + "'");
    const auto choice = redirectFor(*r.relocator, protocol, kEntry, r.target);
    ASSERT_EQ(choice.has_value(), r.bytes.has_value());
    if (!choice) continue;
    EXPECT_EQ(hexBytes(choice->bytes), *r.bytes);
    EXPECT_EQ(choice->patchBytes, r.patchBytes);
  }
}

}  // namespace
}  // namespace hph
