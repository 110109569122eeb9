// Where trampolines (and the checker's memory) may go: never over what the displaced
// instructions reference, nor over the function.
#include <gtest/gtest.h>

#include <cstring>

#include "patch/TrampolineCheck.h"
#include "patch/TrampolinePlacement.h"

namespace hph {
namespace {

constexpr uint64_t kEntry = 0x140001000;

TEST(TrampolinePlacement, FirstFreePlaceSkipsEveryRangeInTheWay) {
  const std::vector<AddressRange> avoid = {{0x1000, 0x1001}, {0x1010, 0x1400}, {0x2000, 0x3000}};
  EXPECT_EQ(firstFreePlace(0x1000, 0x10, 16, avoid, 0x10000), 0x1400u);
  EXPECT_EQ(firstFreePlace(0x1400, 0x400, 16, avoid, 0x10000), 0x1400u);
  EXPECT_EQ(firstFreePlace(0x1400, 0x1000, 16, avoid, 0x10000), 0x3000u);             // does not fit before 0x2000
  EXPECT_EQ(firstFreePlace(0x1401, 0x10, 16, avoid, 0x10000), 0x1410u);               // aligned up
  EXPECT_EQ(firstFreePlace(0x3000, 0x10, 16, avoid, 0x3008), std::nullopt);           // past the limit
  EXPECT_EQ(firstFreePlace(UINT64_MAX - 4, 0x10, 16, {}, UINT64_MAX), std::nullopt);  // no wrap
}

TEST(TrampolinePlacement, ReferencesOfTheDisplacedInstructions) {
  TrampolineRequest x;
  x.functionAddress = kEntry;
  // call +0x40; mov rax, [rip+0x10] (never displaced with a 5-byte patch)
  x.function = {0xE8, 0x40, 0, 0, 0, 0x48, 0x8B, 0x05, 0x10, 0, 0, 0, 0xC3};
  x.patchBytes = 5;
  auto refs = x64Relocator().references(x);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].begin, kEntry + 0x45);
  x.patchBytes = 6;  // now the mov too: 8 bytes at its target
  refs = x64Relocator().references(x);
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[1].begin, kEntry + 12 + 0x10);
  EXPECT_EQ(refs[1].end - refs[1].begin, 8u);

  TrampolineRequest a;
  a.functionAddress = kEntry;
  const uint32_t words[] = {0x9c000802, 0xb0000001, 0xd65f03c0};  // ldr q2, +0x100; adrp x1, +1 page; ret
  a.function.resize(sizeof words);
  std::memcpy(a.function.data(), words, sizeof words);
  a.patchBytes = 8;
  refs = arm64Relocator().references(a);
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].begin, kEntry + 0x100);
  EXPECT_EQ(refs[0].end - refs[0].begin, 16u);
  EXPECT_EQ(refs[1].begin, kEntry + 0x1000);  // the whole page
  EXPECT_EQ(refs[1].end - refs[1].begin, 0x1000u);
}

// A function just below the checker's usual stack (0x7f0000000000) whose displaced store
// writes into it: the checker moves its stack instead of sharing those bytes.
TEST(TrampolinePlacement, TheCheckersStackAvoidsReferences) {
  const uint64_t entry = 0x7EFFFFF00000;
  TrampolineRequest request;
  request.functionAddress = entry;
  // mov [rip+disp32], rsp with the target 0x7f0000008000 (the middle of the usual stack)
  const uint64_t target = 0x7F0000008000;
  const auto disp = static_cast<uint32_t>(target - (entry + 7));
  request.function = {0x48, 0x89, 0x25, 0, 0, 0, 0, 0xC3};
  std::memcpy(&request.function[3], &disp, 4);
  request.function.resize(32, 0xCC);
  request.trampolineAddress = entry + 0x10000;
  const std::vector<uint8_t> patch = x64Relocator().redirect(entry, request.trampolineAddress);
  request.patchBytes = static_cast<uint32_t>(patch.size());
  const Relocation r = x64Relocator().relocate(request);
  ASSERT_TRUE(r.trampoline) << r.refusal;
  auto check = checkTrampoline(x64Arch(), request, *r.trampoline, patch, 32);
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->equivalent) << check->difference;
}

}  // namespace
}  // namespace hph
