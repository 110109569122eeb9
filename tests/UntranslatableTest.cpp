// Code Unicorn 2.0.1 aborts the process translating (Arm64 FP16 words, x64 far calls and
// jumps through a register): the scans name exactly what Unicorn itself aborts on (checked
// in child processes over the encoding classes), and an engine stops before such code and
// reports an invalid instruction instead of taking hph down with it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "emu/arm64/UntranslatableWords.h"
#include "emu/x64/UntranslatableBytes.h"
#include "tests/TestSupport.h"
#include "tests/UnicornProbe.h"

namespace hph::test {
namespace {

// Every combination of the listed bits over `base` (the register fields stay as given).
std::vector<uint32_t> everyCombination(uint32_t base, std::initializer_list<int> bits) {
  std::vector<uint32_t> words;
  const std::vector<int> positions(bits);
  for (uint32_t combo = 0; combo < (1u << positions.size()); ++combo) {
    uint32_t w = base;
    for (size_t i = 0; i < positions.size(); ++i)
      if (combo & (1u << i)) w |= 1u << positions[i];
    words.push_back(w);
  }
  return words;
}

TEST(Untranslatable, ThePredicateNamesExactlyTheWordsUnicornAbortsOn) {
  // Three same (FP16), vector: Q, U, a and the opcode; rm=3, rn=1, rd=2.
  std::vector<uint32_t> words = everyCombination(0x0e400400 | 3 << 16 | 1 << 5 | 2, {30, 29, 23, 13, 12, 11});
  // Two-register miscellaneous (FP16), vector and scalar: Q, U, scalar, a and the opcode.
  const std::vector<uint32_t> misc = everyCombination(0x0e780800 | 1 << 5 | 2, {30, 29, 28, 23, 16, 15, 14, 13, 12});
  words.insert(words.end(), misc.begin(), misc.end());
  size_t aborting = 0;
  for (uint32_t w : words) {
    const bool aborts = probeArm64Word(w) == WordOutcome::kAborts;
    aborting += aborts;
    EXPECT_EQ(arm64::unicornAbortsTranslating(w), aborts) << fmt::format("0x{:08x}", w);
  }
  EXPECT_GT(aborting, 0u);  // the classes hold some: else the probe proves nothing
  // The long fuzz run's word and the property test's.
  EXPECT_TRUE(arm64::unicornAbortsTranslating(0x5e781b3a));
  EXPECT_TRUE(arm64::unicornAbortsTranslating(0x0ec02fd8));
  EXPECT_FALSE(arm64::unicornAbortsTranslating(0xaa0103e0));  // mov x0, x1
}

TEST(Untranslatable, FindsOnlyAlignedWords) {
  std::vector<uint8_t> bytes(16, 0);
  const uint32_t bad = 0x5e781b3a;
  std::memcpy(bytes.data() + 8, &bad, 4);
  std::vector<uint64_t> found;
  arm64::findUntranslatable(0x1000, bytes, found);
  EXPECT_EQ(found, std::vector<uint64_t>{0x1008});
  found.clear();
  arm64::findUntranslatable(0x1002, std::span(bytes).subspan(2), found);  // scanning from a half word
  EXPECT_EQ(found, std::vector<uint64_t>{0x1008});
  found.clear();
  arm64::findUntranslatable(0x1001, std::span(bytes).subspan(1, 10), found);  // the word at 0x1008 only in part
  EXPECT_TRUE(found.empty());
}

// A function whose second instruction is such a word (a patch image or hostile code could
// hold one): the call ends in an invalid-instruction fault there, and the machine runs on.
TEST(Untranslatable, AnEngineStopsBeforeTheWordAndReportsAnInvalidInstruction) {
  auto corpus = loadCorpusImage("basics.arm64.dll");
  ASSERT_TRUE(corpus);
  const uint64_t entry = corpus->address("fib_iter");
  const uint64_t args[] = {10};
  auto before = corpus->machine->call(entry, args);
  ASSERT_TRUE(before.ok() && before->completed());
  std::vector<uint8_t> original(8);
  ASSERT_TRUE(corpus->machine->engine().read(entry, original));
  const uint32_t code[] = {0xd2800020, 0x5e781b3a};  // mov x0, #1; the word
  std::vector<uint8_t> bytes(8);
  std::memcpy(bytes.data(), code, 8);
  ASSERT_TRUE(corpus->machine->writeCode(entry, bytes));
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second from translated blocks
    auto outcome = corpus->machine->call(entry, args, CallOptions{.precisePc = true});
    ASSERT_TRUE(outcome.ok()) << outcome.error().message;
    ASSERT_TRUE(outcome->fault);
    EXPECT_EQ(outcome->fault->kind, FaultKind::kInvalidInstruction) << outcome->fault->describe();
    EXPECT_EQ(outcome->fault->pc, entry + 4);
    EXPECT_NE(outcome->fault->detail.find("cannot translate"), std::string::npos) << outcome->fault->describe();
  }
  // Put back, the function runs again: the stop was at that word, not at its address.
  ASSERT_TRUE(corpus->machine->writeCode(entry, original));
  auto fixed = corpus->machine->call(entry, args);
  ASSERT_TRUE(fixed.ok());
  ASSERT_TRUE(fixed->completed());
  EXPECT_EQ(fixed->value, before->value);
}

// x64: every `ff /r` form (all eight /r, all four mods) behind no prefix or a few: an
// instruction starting at the first byte is named exactly when Unicorn aborts on it.
TEST(Untranslatable, TheX64ScanNamesExactlyTheInstructionsUnicornAbortsOn) {
  const std::vector<std::vector<uint8_t>> prefixes = {{}, {0x48}, {0x66}, {0x67}, {0xf2}, {0x26}, {0x40}, {0x66, 0x48}};
  size_t aborting = 0;
  for (const auto& prefix : prefixes)
    for (uint8_t mod = 0; mod < 4; ++mod)
      for (uint8_t reg = 0; reg < 8; ++reg) {
        std::vector<uint8_t> code = prefix;
        code.push_back(0xff);
        code.push_back(static_cast<uint8_t>(mod << 6 | reg << 3 | 1));  // rm = rcx: no SIB
        code.insert(code.end(), mod == 1 ? 1 : mod == 2 ? 4 : 0, 0x10);
        code.insert(code.end(), 8, 0x90);
        std::vector<uint64_t> found;
        x64::findUntranslatable(0x1000, code, found);
        const bool named = std::find(found.begin(), found.end(), 0x1000) != found.end();
        const bool aborts = probeX64Code(code) == WordOutcome::kAborts;
        aborting += aborts;
        EXPECT_EQ(named, aborts) << fmt::format("{:02x}", fmt::join(code, " "));
      }
  EXPECT_EQ(aborting, 2 * prefixes.size());  // ff /3 and ff /5 with mod 3, behind every prefix
}

// `hph call` of x64 code holding one (a patch image or hostile code could): an invalid
// instruction reported at its first prefix byte, not a dead harness.
TEST(Untranslatable, AnX64EngineStopsBeforeAFarCallThroughARegister) {
  auto corpus = loadCorpusImage("basics.x64.dll");
  ASSERT_TRUE(corpus);
  const uint64_t entry = corpus->address("fib_iter");
  const uint8_t code[] = {0x48, 0x89, 0xc8, 0x48, 0xff, 0xd8, 0xc3};  // mov rax, rcx; rex.w ff /3 (eax); ret
  ASSERT_TRUE(corpus->machine->writeCode(entry, code));
  const uint64_t args[] = {10};
  auto outcome = corpus->machine->call(entry, args, CallOptions{.precisePc = true});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  ASSERT_TRUE(outcome->fault);
  EXPECT_EQ(outcome->fault->kind, FaultKind::kInvalidInstruction) << outcome->fault->describe();
  EXPECT_EQ(outcome->fault->pc, entry + 3);
}

}  // namespace
}  // namespace hph::test
