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
// Putting back only that word must drop the block that ends before it (it was translated
// to stop there).
TEST(Untranslatable, AnEngineStopsBeforeTheWordAndReportsAnInvalidInstruction) {
  auto corpus = loadCorpusImage("basics.arm64.dll");
  ASSERT_TRUE(corpus);
  const uint64_t entry = corpus->address("fib_iter");
  const uint64_t args[] = {10};
  // The same options throughout: changing hooks would flush every translation.
  const CallOptions options{.precisePc = true};
  auto before = corpus->machine->call(entry, args, options);
  ASSERT_TRUE(before.ok() && before->completed());
  std::vector<uint8_t> original(4);
  ASSERT_TRUE(corpus->machine->engine().read(entry + 4, original));
  const uint32_t word = 0x5e781b3a;
  ASSERT_TRUE(corpus->machine->writeCode(entry + 4, {reinterpret_cast<const uint8_t*>(&word), 4}));
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second from translated blocks
    auto outcome = corpus->machine->call(entry, args, options);
    ASSERT_TRUE(outcome.ok()) << outcome.error().message;
    ASSERT_TRUE(outcome->fault);
    EXPECT_EQ(outcome->fault->kind, FaultKind::kInvalidInstruction) << outcome->fault->describe();
    EXPECT_EQ(outcome->fault->pc, entry + 4);
    EXPECT_NE(outcome->fault->detail.find("cannot translate"), std::string::npos) << outcome->fault->describe();
  }
  ASSERT_TRUE(corpus->machine->writeCode(entry + 4, original));
  auto fixed = corpus->machine->call(entry, args, options);
  ASSERT_TRUE(fixed.ok()) << fixed.error().message;
  ASSERT_TRUE(fixed->completed()) << (fixed->fault ? fixed->fault->describe() : "timed out");
  EXPECT_EQ(fixed->value, before->value);
}

// At the engine: a block translated before such code stops there; when only that code is
// rewritten into something valid, runs must go on past it, not keep stopping at an
// address that is no exit any more. (Engine::forgetCode drops the blocks that may end
// there; this passed without that in Unicorn 2.0.1 too, which drops more than the range.)
TEST(Untranslatable, RewritingOnlyTheCodeDropsTheBlockThatStoppedBeforeIt) {
  for (const Arch* arch : {&x64Arch(), &arm64Arch()}) {
    SCOPED_TRACE(std::string(arch->name()));
    const bool x64 = arch->kind() == ArchKind::kX64;
    Engine engine = std::move(arch->openEngine()).value();
    constexpr uint64_t kCode = 0x10000, kStack = 0x30000;
    ASSERT_EQ(uc_mem_map(engine.get(), kCode, 0x1000, UC_PROT_ALL), UC_ERR_OK);
    ASSERT_EQ(uc_mem_map(engine.get(), kStack, 0x1000, UC_PROT_ALL), UC_ERR_OK);
    // x64: mov eax, 1; ff /3 (eax); mov eax, 2; ret. Arm64: mov x0, #1; the word; mov x0, #2; ret.
    const std::vector<uint8_t> code = x64 ? std::vector<uint8_t>{0xb8, 1, 0, 0, 0, 0xff, 0xd8, 0xb8, 2, 0, 0, 0, 0xc3}
                                          : std::vector<uint8_t>{0x20, 0x00, 0x80, 0xd2, 0x3a, 0x1b, 0x78, 0x5e,
                                                                 0x40, 0x00, 0x80, 0xd2, 0xc0, 0x03, 0x5f, 0xd6};
    const uint64_t bad = kCode + (x64 ? 5 : 4);
    const std::vector<uint8_t> fixed =
        x64 ? std::vector<uint8_t>{0x66, 0x90} : std::vector<uint8_t>{0x1f, 0x20, 0x03, 0xd5};
    ASSERT_TRUE(engine.write(kCode, code));
    engine.forgetCode(kCode, kCode + code.size());
    const uint64_t end = 0x20000;  // ret leaves the mapped pages: the run ends there
    if (x64) {
      ASSERT_TRUE(engine.write(kStack + 0x800, {reinterpret_cast<const uint8_t*>(&end), 8}));
      engine.setReg(UC_X86_REG_RSP, kStack + 0x800);
    } else {
      engine.setReg(UC_ARM64_REG_X30, end);
    }
    ASSERT_TRUE(engine.start(kCode, std::nullopt).ok());
    EXPECT_EQ(engine.reg(arch->pcRegister()), bad);
    EXPECT_TRUE(engine.untranslatableAt(bad));
    ASSERT_TRUE(engine.write(bad, fixed));
    engine.forgetCode(bad, bad + fixed.size());
    EXPECT_FALSE(engine.untranslatableAt(bad));
    if (x64) engine.setReg(UC_X86_REG_RSP, kStack + 0x800);
    (void)engine.start(kCode, std::nullopt);
    EXPECT_EQ(engine.reg(x64 ? int{UC_X86_REG_RAX} : int{UC_ARM64_REG_X0}), 2u)
        << "stopped at 0x" << std::hex << engine.reg(arch->pcRegister());
  }
}

// The last pages of the address space: the scan around a changed range must not wrap
// (the relocator fuzzer hung in forgetCode on a page at 0xffffffffffffe000).
TEST(Untranslatable, ScanningTheLastPagesOfTheAddressSpaceEnds) {
  for (const Arch* arch : {&x64Arch(), &arm64Arch()}) {
    Engine engine = std::move(arch->openEngine()).value();
    constexpr uint64_t kLastPages = 0xFFFFFFFFFFFFE000;
    ASSERT_EQ(uc_mem_map(engine.get(), kLastPages, 0x2000, UC_PROT_ALL), UC_ERR_OK);
    const uint8_t farCall[] = {0xff, 0xd8};
    const uint32_t word = 0x5e781b3a;
    const uint64_t at = 0xFFFFFFFFFFFFFFF0;
    if (arch->kind() == ArchKind::kX64)
      ASSERT_TRUE(engine.write(at, farCall));
    else
      ASSERT_TRUE(engine.write(at, {reinterpret_cast<const uint8_t*>(&word), 4}));
    engine.forgetCode(kLastPages, kLastPages + 0x1000);
    engine.forgetCode(kLastPages + 0x1000, UINT64_MAX);
    EXPECT_TRUE(engine.untranslatableAt(at)) << arch->name();
  }
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
