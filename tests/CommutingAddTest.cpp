// Which x64 LOCK adds commute: the instruction (Arch::atomicAdd) and whether the thread ever
// observes the registers and flags it leaves (Arch::atomicAddUnobserved, the liveness walk
// of x64/ResultLiveness.h), as golden cases over hand-assembled code: the add at kPc, its
// function's code after it, and a caller the walk returns into through the stack.
#include <gtest/gtest.h>

#include <unicorn/x86.h>

#include <cstring>

#include "emu/core/Machine.h"
#include "harness/explore/Explorer.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

constexpr uint64_t kPc = 0x140001000;
constexpr uint64_t kCaller = 0x140002000;
constexpr uint64_t kRsp = 0x7ffd00010000;
constexpr uint64_t kRbx = 0x180004000;

// `lock xadd [rip+0x1ff7], rax` and `lock add qword [rip+0x1ff7], 1`: both 9 bytes, so
// both add to the word at kPc + 0x2000.
const std::vector<uint8_t> kXadd = {0xf0, 0x48, 0x0f, 0xc1, 0x05, 0xf7, 0x1f, 0x00, 0x00};
const std::vector<uint8_t> kAdd = {0xf0, 0x48, 0x83, 0x05, 0xf7, 0x1f, 0x00, 0x00, 0x01};

struct WalkCase {
  const char* name;
  std::vector<uint8_t> add;     // at kPc
  std::vector<uint8_t> after;   // right after it
  std::vector<uint8_t> caller;  // at kCaller, where a `ret` from `after` goes
  bool unobserved;
};

// Caller code: `inc qword [rbx+rsi*8]` then the case's own instructions.
std::vector<uint8_t> caller(std::vector<uint8_t> tail) {
  std::vector<uint8_t> code = {0x48, 0xff, 0x04, 0xf3};
  code.insert(code.end(), tail.begin(), tail.end());
  return code;
}

const WalkCase kWalks[] = {
    // bump: the old value plus the amount is returned; the caller drops it.
    {"returned_then_overwritten",
     kXadd,
     {0x48, 0x01, 0xc8, 0xc3},                                        // add rax, rcx; ret
     caller({0x48, 0x8b, 0x04, 0xf3, 0x48, 0x83, 0xc4, 0x20, 0xc3}),  // mov rax, [rbx+rsi*8]; add rsp, 0x20; ret
     true},
    {"returned_and_tested", kXadd, {0x48, 0x01, 0xc8, 0xc3}, {0x48, 0x85, 0xc0, 0x74, 0x00, 0xcc}, false},  // test; je
    {"returned_and_stored", kXadd, {0x48, 0x01, 0xc8, 0xc3}, {0x48, 0x89, 0x03, 0xcc}, false},     // mov [rbx], rax
    {"returned_as_an_address", kXadd, {0x48, 0x01, 0xc8, 0xc3}, {0x48, 0x8b, 0x00, 0xcc}, false},  // mov rax, [rax]
    {"returned_and_pushed", kXadd, {0x48, 0x01, 0xc8, 0xc3}, {0x50, 0xcc}, false},                 // push rax
    // A call: the callee may read the argument and callee-saved registers, nothing else.
    {"volatile_dead_at_a_call", kXadd, {0xe8, 0x00, 0x10, 0x00, 0x00}, {}, true},  // call (rax, flags dead)
    {"argument_to_a_call", kXadd, {0x48, 0x89, 0xc1, 0xe8, 0x00, 0x10, 0x00, 0x00}, {}, false},  // mov rcx, rax; call
    {"argument_to_a_shim",
     kXadd,
     {0x49, 0x89, 0xc1, 0xff, 0x15, 0x00, 0x10, 0x00, 0x00},
     {},
     false},  // mov r9, rax; call [rip+x]
    {"callee_saved_at_a_call",
     kXadd,
     {0x48, 0x89, 0xc3, 0xe8, 0x00, 0x10, 0x00, 0x00},
     {},
     false},  // mov rbx, rax; call
    // Flags only: a conditional branch on them observes them; sub replaces them all.
    {"flags_tested", kAdd, {0x74, 0x00, 0xc3}, caller({0xc3}), false},
    {"flags_replaced", kAdd, {0x29, 0xc0, 0xc3}, {}, true},            // sub eax, eax
    {"xor_leaves_af_undefined", kAdd, {0x31, 0xc0, 0xc3}, {}, false},  // AF survives into the empty caller
    // Only CF survives inc; a later full flag write ends it (add rsp sets all).
    {"cf_survives_inc_until_add", kAdd, {0xc3}, caller({0x48, 0x83, 0xc4, 0x20, 0xc3}), true},
    {"cf_survives_inc_into_adc", kAdd, {0xc3}, caller({0x48, 0x11, 0xc0, 0xcc}), false},  // adc rax, rax
    // A shift by cl may shift by 0 and change no flag; by 1 it sets them (AF stays).
    {"shift_by_cl_keeps_flags", kAdd, {0x48, 0xd3, 0xe0, 0x74, 0x00, 0xc3}, {}, false},  // shl rax, cl; jz
    {"shift_by_one_sets_them",
     kAdd,
     {0x48, 0xd1, 0xe0, 0x74, 0x00, 0xc3},
     caller({0x48, 0x83, 0xc4, 0x20, 0xc3}),
     true},
    // A conditional branch on clean flags: both ways must drop the value.
    {"both_branch_ways_overwrite",
     kXadd,
     {0x48, 0x29, 0xd2, 0x74, 0x03, 0x29, 0xc0, 0xc3, 0x29, 0xc0, 0xc3},  // sub rdx, rdx; je +3; sub eax, eax; ret; ...
     {},
     true},
    {"one_branch_way_stores",
     kXadd,
     {0x48, 0x29, 0xd2, 0x74, 0x03, 0x29, 0xc0, 0xc3, 0x48, 0x89, 0x03, 0xc3},  // ...; mov [rbx], rax; ret
     {},
     false},
    {"indirect_jump", kXadd, {0xff, 0xe1}, {}, false},                // jmp rcx
    {"system_instruction", kXadd, {0x0f, 0x05}, {}, false},           // syscall
    {"unknown_stack_depth", kXadd, {0xc9, 0xc3}, caller({}), false},  // leave; ret
    // The stack: a return from below where the add ran, or after a store that may have
    // replaced the return address, is not followed.
    {"return_below_the_start", kXadd, {0x53, 0xc3}, caller({0x48, 0x83, 0xc4, 0x20, 0xc3}), false},  // push rbx; ret
    {"return_after_a_store",
     kXadd,
     {0x48, 0x89, 0x4c, 0x24, 0x08, 0xc3},
     caller({0x48, 0x83, 0xc4, 0x20, 0xc3}),
     false},  // mov [rsp+8], rcx; ret
    {"partial_write_keeps_it", kXadd, {0x29, 0xd2, 0x88, 0xd0, 0xc3}, {0x48, 0x89, 0x03, 0xcc}, false},  // mov al, dl
    {"full_write_drops_it", kXadd, {0x29, 0xd2, 0x89, 0xd0, 0xc3}, {0x48, 0x89, 0x03, 0xcc}, true},      // mov eax, edx
};

class CommutingAddWalk : public ::testing::TestWithParam<WalkCase> {};

// The case's code in memory, with kCaller as the return address at kRsp.
GuestBytes codeOf(const WalkCase& c) {
  GuestBytes code;
  code.put(kPc, c.add);
  code.put(kPc + c.add.size(), c.after);
  code.put(kCaller, c.caller);
  std::vector<uint8_t> returnAddress(8);
  std::memcpy(returnAddress.data(), &kCaller, 8);
  code.put(kRsp, returnAddress);
  return code;
}

TEST_P(CommutingAddWalk, MatchesTheGoldenAnswer) {
  const WalkCase& c = GetParam();
  const GuestBytes code = codeOf(c);
  const CodeChanges nothingChanges = [](uint64_t, uint64_t) { return false; };
  EXPECT_EQ(x64Arch().atomicAddUnobserved(c.add, kPc, {.sp = kRsp}, code.reader(), nothingChanges), c.unobserved);
}

// The caller's code is about to be patched: the thread may run other bytes there.
TEST(CommutingAddWalk, CodeAPlanStepWillChangeIsObserved) {
  const WalkCase& c = kWalks[0];
  ASSERT_TRUE(c.unobserved);  // with nothing changing
  const GuestBytes code = codeOf(c);
  const CodeChanges callerChanges = [](uint64_t begin, uint64_t end) { return begin < kCaller + 2 && kCaller < end; };
  EXPECT_FALSE(x64Arch().atomicAddUnobserved(c.add, kPc, {.sp = kRsp}, code.reader(), callerChanges));
}

INSTANTIATE_TEST_SUITE_P(X64, CommutingAddWalk, ::testing::ValuesIn(kWalks),
                         [](const auto& info) { return std::string(info.param.name); });

struct AddCase {
  const char* name;
  std::vector<uint8_t> bytes;
  std::optional<uint64_t> address;
};

const AddCase kAdds[] = {
    {"lock_xadd_qword", kXadd, kPc + 0x2000},
    {"lock_add_qword_immediate", kAdd, kPc + 0x2000},
    {"lock_inc_indexed", {0xf0, 0x48, 0xff, 0x04, 0xf3}, kRbx},  // rsi = 0
    {"lock_sub_register", {0xf0, 0x48, 0x29, 0x03}, kRbx},
    {"lock_xadd_dword", {0xf0, 0x0f, 0xc1, 0x03}, std::nullopt},  // not an 8-byte word
    {"xadd_without_lock", {0x48, 0x0f, 0xc1, 0x03}, std::nullopt},
    {"lock_or_does_not_add", {0xf0, 0x48, 0x09, 0x03}, std::nullopt},
    {"lock_cmpxchg", {0xf0, 0x48, 0x0f, 0xb1, 0x0b}, std::nullopt},
    {"unaligned", {0xf0, 0x48, 0x0f, 0xc1, 0x43, 0x04}, std::nullopt},  // [rbx+4]
    {"gs_is_per_thread", {0x65, 0xf0, 0x48, 0x0f, 0xc1, 0x04, 0x25, 0x30, 0x00, 0x00, 0x00}, std::nullopt},
};

class CommutingAddInstruction : public ::testing::TestWithParam<AddCase> {};

TEST_P(CommutingAddInstruction, MatchesTheGoldenAnswer) {
  const AddCase& c = GetParam();
  auto machine = Machine::create(x64Arch());
  ASSERT_TRUE(machine.ok());
  const Engine& engine = (*machine)->engine();
  engine.setReg(UC_X86_REG_RBX, kRbx);
  engine.setReg(UC_X86_REG_RSI, 0);
  const std::optional<AtomicAdd> add = x64Arch().atomicAdd(engine, c.bytes, kPc);
  EXPECT_EQ(add ? std::optional(add->address) : std::nullopt, c.address);
  // The add is that one instruction.
  if (add) {
    EXPECT_EQ(add->end - add->begin, c.bytes.size());
  }
}

INSTANTIATE_TEST_SUITE_P(X64, CommutingAddInstruction, ::testing::ValuesIn(kAdds),
                         [](const auto& info) { return std::string(info.param.name); });

// Exploration with adds commuting and without: the same verdict (for a violation, the same
// property) on the bundled scenarios whose threads use atomic adds (x64 LOCK adds, Arm64
// exclusive loops), never more schedules, and for the counter workloads far fewer.
struct ExploreCase {
  const char* scenario;
  const char* entry;              // nullptr: the scenario's own
  double atMostShareOfSchedules;  // schedules with commuting / without, at most
};

class CommutingAddsExplore : public ::testing::TestWithParam<ExploreCase> {};

ExploreResult exploreWith(const std::shared_ptr<const ScenarioInputs>& inputs, bool commute) {
  ExploreOptions options;
  options.settings = inputs->scenario.explore;
  options.settings.jobs = 1;
  options.settings.atomicAddsCommute = commute;
  return explore(inputs, options);
}

TEST_P(CommutingAddsExplore, SameVerdictInFewerSchedules) {
  const ExploreCase c = GetParam();
  auto inputs = preparedScenario(corpusScenario(c.scenario), [&](Scenario& s) {
    if (c.entry) s.threadEntry = c.entry;
  });
  ASSERT_TRUE(inputs);
  const ExploreResult off = exploreWith(inputs, false), on = exploreWith(inputs, true);
  ASSERT_FALSE(off.error || on.error);
  ASSERT_EQ(off.counterexample.has_value(), on.counterexample.has_value());
  if (off.counterexample) {
    EXPECT_EQ(off.counterexample->violation->property, on.counterexample->violation->property);
  }
  EXPECT_EQ(off.exhausted, on.exhausted);
  EXPECT_LE(static_cast<double>(on.schedules), c.atMostShareOfSchedules * static_cast<double>(off.schedules))
      << on.schedules << " with, " << off.schedules << " without";
  std::printf("%s: %llu schedules with adds commuting, %llu without\n", c.scenario,
              static_cast<unsigned long long>(on.schedules), static_cast<unsigned long long>(off.schedules));
}

INSTANTIATE_TEST_SUITE_P(Corpus, CommutingAddsExplore,
                         ::testing::Values(ExploreCase{"patch-padding-short-jmp.x64.toml", nullptr, 0.5},
                                           ExploreCase{"patch-padding-short-jmp.x64.toml", "worker_5", 0.3},
                                           ExploreCase{"patch-stop-the-world.x64.toml", nullptr, 1.0},
                                           ExploreCase{"patch-int3-3step.x64.toml", nullptr, 1.0},
                                           ExploreCase{"patch-series.x64.toml", nullptr, 1.0},
                                           ExploreCase{"patch-naive-jmp5.x64.toml", nullptr, 1.0},
                                           ExploreCase{"canary-wrong-rip-fixup.x64.toml", nullptr, 1.0},
                                           ExploreCase{"canary-no-move-pc.x64.toml", nullptr, 1.0},
                                           ExploreCase{"atomic.x64.toml", nullptr, 1.0},
                                           ExploreCase{"rmw-locked.x64.toml", nullptr, 1.0},
                                           ExploreCase{"threads.x64.toml", nullptr, 1.0},
                                           ExploreCase{"patch-b-direct.arm64.toml", nullptr, 0.5},
                                           ExploreCase{"patch-stop-the-world.arm64.toml", nullptr, 1.0},
                                           ExploreCase{"patch-veneer.arm64.toml", nullptr, 1.0},
                                           ExploreCase{"patch-literal-swap.arm64.toml", nullptr, 1.0},
                                           ExploreCase{"patch-series.arm64.toml", nullptr, 1.0},
                                           ExploreCase{"canary-b-direct-non-cmodx.arm64.toml", nullptr, 1.0},
                                           ExploreCase{"canary-stale-veneer.arm64.toml", nullptr, 1.0},
                                           ExploreCase{"canary-branch-before-veneer.arm64.toml", nullptr, 1.0},
                                           ExploreCase{"atomic.arm64.toml", nullptr, 1.0}));

}  // namespace
}  // namespace hph::test
