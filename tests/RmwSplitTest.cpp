// Which x64 instructions are a memory read-modify-write that real cores perform as a
// separate load and store (Arch::splittableAccess), and where they write: golden cases.
#include <gtest/gtest.h>

#include <unicorn/x86.h>

#include "emu/core/Machine.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

constexpr uint64_t kPc = 0x140001000;
constexpr uint64_t kRax = 0x180003000, kRbx = 0x180004000, kRcx = 0x10, kRsp = 0x7ffd00010000;

struct RmwCase {
  const char* name;
  std::vector<uint8_t> bytes;
  bool splittable;
  uint64_t address = 0;
  uint32_t size = 0;
};

const RmwCase kCases[] = {
    {"inc_rip_relative", {0x48, 0xff, 0x05, 0xd9, 0x1f, 0x00, 0x00}, true, kPc + 7 + 0x1fd9, 8},
    {"add_memory_register", {0x48, 0x01, 0x08}, true, kRax, 8},
    {"xadd_without_lock", {0x48, 0x0f, 0xc1, 0x08}, true, kRax, 8},
    {"cmpxchg_without_lock", {0x48, 0x0f, 0xb1, 0x0b}, true, kRbx, 8},
    {"shl_memory", {0x48, 0xd1, 0x20}, true, kRax, 8},
    {"add_dword_stack_slot", {0x83, 0x44, 0x24, 0x08, 0x01}, true, kRsp + 8, 4},
    {"or_byte_indexed", {0x80, 0x0c, 0x0b, 0x01}, true, kRbx + kRcx, 1},
    {"bts_immediate_bit", {0x48, 0x0f, 0xba, 0x28, 0x03}, true, kRax, 8},
    {"bts_register_bit_addresses_past_the_operand", {0x48, 0x0f, 0xab, 0x08}, false},
    {"lock_inc", {0xf0, 0x48, 0xff, 0x05, 0xd9, 0x1f, 0x00, 0x00}, false},
    {"lock_xadd", {0xf0, 0x48, 0x0f, 0xc1, 0x08}, false},
    {"xchg_memory_is_locked_implicitly", {0x48, 0x87, 0x08}, false},
    {"load_only", {0x48, 0x8b, 0x00}, false},
    {"store_only", {0x48, 0x89, 0x08}, false},
    {"push_memory_reads_only_it", {0xff, 0x30}, false},
    {"gs_teb_is_per_thread", {0x65, 0x48, 0xff, 0x04, 0x25, 0x30, 0x00, 0x00, 0x00}, false},
    {"register_add", {0x48, 0x01, 0xc8}, false},
    {"lea_computes_no_access", {0x48, 0x8d, 0x00}, false},
};

class Splittable : public ::testing::TestWithParam<RmwCase> {};

TEST_P(Splittable, MatchesTheGoldenAnswer) {
  const RmwCase& c = GetParam();
  auto machine = Machine::create(x64Arch());
  ASSERT_TRUE(machine.ok());
  const Engine& engine = (*machine)->engine();
  engine.setReg(UC_X86_REG_RAX, kRax);
  engine.setReg(UC_X86_REG_RBX, kRbx);
  engine.setReg(UC_X86_REG_RCX, kRcx);
  engine.setReg(UC_X86_REG_RSP, kRsp);
  const auto access = x64Arch().splittableAccess(engine, c.bytes, kPc);
  ASSERT_EQ(access.has_value(), c.splittable);
  if (!access) return;
  EXPECT_EQ(access->address, c.address);
  EXPECT_EQ(access->bytes, c.size);
}

INSTANTIATE_TEST_SUITE_P(X64, Splittable, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Arm64's memory RMWs are LSE atomics (single-copy atomic): never split. `ldadd x1, x0, [x2]`.
TEST(Splittable, Arm64AtomicsAreNever) {
  auto machine = Machine::create(arm64Arch());
  ASSERT_TRUE(machine.ok());
  const std::vector<uint8_t> ldadd = {0x40, 0x00, 0x21, 0xf8};
  EXPECT_FALSE(arm64Arch().splittableAccess((*machine)->engine(), ldadd, 0x1000).has_value());
}

}  // namespace
}  // namespace hph::test
