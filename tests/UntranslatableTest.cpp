// Arm64 words Unicorn 2.0.1 aborts on: the predicate names exactly the words Unicorn
// itself aborts on (checked in child processes over every operation and form bit of both
// FP16 classes), and an engine stops before one and reports an invalid instruction
// instead of taking hph down with it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>

#include "emu/arm64/UntranslatableWords.h"
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

}  // namespace
}  // namespace hph::test
