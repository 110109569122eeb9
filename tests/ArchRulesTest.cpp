// Golden tables for the per-architecture rules: which Arm64 encodings may be modified
// while running, and when an entry is hotpatchable as compiled.
#include <gtest/gtest.h>

#include <vector>

#include "emu/arm64/Cmodx.h"
#include "emu/core/Arch.h"

namespace hph {
namespace {

struct CmodxCase {
  uint32_t word;
  const char* expected;  // nullptr: not concurrently modifiable
};

TEST(Cmodx, ClassifiesTheArchitecturalSet) {
  const CmodxCase cases[] = {
      {0xD503201F, "nop"},   {0x14000000, "b"},   {0x17FFFFFF, "b"},     {0x94000010, "bl"},
      {0xD4200000, "brk"},   {0xD43E0000, "brk"}, {0xD4000001, "svc"},   {0xD4000002, "hvc"},
      {0xD4000003, "smc"},   {0xD5033FDF, "isb"}, {0xD65F03C0, nullptr},  // ret
      {0xAA0103E0, nullptr},                                              // mov x0, x1
      {0x54000000, nullptr},                                              // b.eq
      {0xB4000000, nullptr},                                              // cbz
      {0xD503233F, nullptr},                                              // paciasp: a hint, but not NOP
      {0xD503245F, nullptr},                                              // bti c
      {0x00000000, nullptr},                                              // udf #0
      {0xD63F0200, nullptr},                                              // blr x16
      {0xD4000004, nullptr},                                              // not an exception-generating encoding
  };
  for (const CmodxCase& c : cases) {
    auto cls = arm64::cmodxClass(c.word);
    if (c.expected) {
      ASSERT_TRUE(cls.has_value()) << std::hex << c.word;
      EXPECT_EQ(*cls, c.expected) << std::hex << c.word;
    } else {
      EXPECT_FALSE(cls.has_value()) << std::hex << c.word << " classified as " << *cls;
    }
  }
}

std::vector<uint8_t> bytes(std::initializer_list<uint8_t> b) { return b; }

TEST(X64Entry, NeedsTwoByteFirstInstructionAndFiveBytesOfPadding) {
  const Arch& x64 = x64Arch();
  const auto pad5 = bytes({0xCC, 0xCC, 0xCC, 0xCC, 0xCC});
  const auto pad4 = bytes({0x00, 0xCC, 0xCC, 0xCC, 0xCC});
  const auto nops = bytes({0x90, 0x90, 0x90, 0x90, 0x90, 0x90});
  const auto movRbx = bytes({0x48, 0x89, 0x5C, 0x24, 0x08});   // mov [rsp+8], rbx
  const auto pushRbx = bytes({0x53, 0x48, 0x83, 0xEC, 0x20});  // push rbx (1 byte)
  const auto xchg = bytes({0x66, 0x90});                       // the 2-byte -fms-hotpatch nop

  auto ok = x64.entryPatchability(pad5, movRbx, 0x140001000);
  EXPECT_TRUE(ok.hotpatchable) << ok.reason;
  EXPECT_EQ(ok.firstInstructionLength, 5u);
  EXPECT_EQ(ok.paddingBefore, 5u);
  EXPECT_TRUE(x64.entryPatchability(nops, xchg, 0x140001000).hotpatchable);

  auto shortPad = x64.entryPatchability(pad4, movRbx, 0x140001000);
  EXPECT_FALSE(shortPad.hotpatchable);
  EXPECT_EQ(shortPad.paddingBefore, 4u);
  EXPECT_NE(shortPad.reason.find("padding"), std::string::npos);

  auto oneByte = x64.entryPatchability(pad5, pushRbx, 0x140001000);
  EXPECT_FALSE(oneByte.hotpatchable);
  EXPECT_EQ(oneByte.firstInstructionLength, 1u);
  EXPECT_NE(oneByte.reason.find("push rbx"), std::string::npos) << oneByte.reason;
}

TEST(Arm64Entry, NeedsAlignmentAndAConcurrentlyModifiableFirstInstruction) {
  const Arch& arm64 = arm64Arch();
  const auto zeros = bytes({0, 0, 0, 0});
  const auto nop = bytes({0x1F, 0x20, 0x03, 0xD5});
  const auto stp = bytes({0xF3, 0x53, 0xBE, 0xA9});  // stp x19, x20, [sp, #-0x20]!

  auto ok = arm64.entryPatchability(zeros, nop, 0x180001000);
  EXPECT_TRUE(ok.hotpatchable) << ok.reason;
  EXPECT_TRUE(ok.concurrentlyModifiable);
  EXPECT_EQ(ok.paddingBefore, 4u);

  auto misaligned = arm64.entryPatchability(zeros, nop, 0x180001002);
  EXPECT_FALSE(misaligned.hotpatchable);
  EXPECT_FALSE(misaligned.aligned);

  auto live = arm64.entryPatchability(zeros, stp, 0x180001000);
  EXPECT_FALSE(live.hotpatchable);
  EXPECT_FALSE(live.concurrentlyModifiable);
  EXPECT_NE(live.reason.find("stp x19, x20"), std::string::npos) << live.reason;
}

TEST(Decode, LengthsAndTextOnBothArchitectures) {
  const auto ret = bytes({0xC3});
  const auto movabs = bytes({0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(x64Arch().decode(ret, 0).text, "ret");
  EXPECT_EQ(x64Arch().decode(movabs, 0).length, 10u);
  EXPECT_FALSE(x64Arch().decode(bytes({0x0F, 0xFF}), 0).valid);  // not an instruction

  // Capstone 4 rejects LSE atomics; the length is still one word.
  const auto ldadd = bytes({0x41, 0x00, 0x20, 0xF8});  // ldadd x0, x1, [x2]
  const auto decoded = arm64Arch().decode(ldadd, 0);
  EXPECT_EQ(decoded.length, 4u);
  EXPECT_EQ(arm64Arch().decode(bytes({0xC0, 0x03, 0x5F, 0xD6}), 0).text, "ret");
}

TEST(CountInstructions, CountsWholeInstructionsInABlock) {
  // push rbp; mov rbp, rsp; movabs rax, imm64; ret
  const auto block = bytes({0x55, 0x48, 0x89, 0xE5, 0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8, 0xC3});
  EXPECT_EQ(x64Arch().countInstructions(block), 4u);
  EXPECT_EQ(arm64Arch().countInstructions(std::vector<uint8_t>(24)), 6u);
}

}  // namespace
}  // namespace hph
