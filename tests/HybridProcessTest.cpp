// The hybrid process: the Arm64EC corpus image run by an x64 and an Arm64 engine over one
// memory. Every export returns what the same C sources compiled for the host return,
// crossing engines as its code does; the emulator routines pick the side each entry path
// goes to; a patched x64 entry is reached by exactly the callers that go through it.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <cstring>
#include <functional>

#include "emu/hybrid/HybridProcess.h"
#include "tests/TestSupport.h"

extern "C" {
uint64_t hybrid_add(uint64_t, uint64_t);
uint64_t hybrid_mul(uint64_t, uint64_t);
uint64_t hybrid_square_of(uint64_t);
uint64_t hybrid_sum_squares(uint64_t, uint64_t);
uint64_t hybrid_scaled(uint64_t, uint64_t);
uint64_t hybrid_apply_add(uint64_t, uint64_t);
uint64_t hybrid_ec_calls_x64(uint64_t, uint64_t);
uint64_t hybrid_x64_calls_add(uint64_t, uint64_t);
uint64_t hybrid_sum6(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
uint64_t hybrid_ec_calls_x64_sum6(uint64_t, uint64_t);
uint64_t hybrid_x64_calls_sum6(uint64_t, uint64_t);
uint64_t hybrid_sum_va(uint64_t, ...);
uint64_t hybrid_ec_calls_sum_va(uint64_t, uint64_t);
uint64_t hybrid_x64_calls_sum_va(uint64_t, uint64_t);
}

namespace hph::test {
namespace {

using hybrid::Arm64xRoutine;
using hybrid::HybridCallResult;
using hybrid::HybridProcess;

struct Hybrid {
  PeImage image;
  std::unique_ptr<HybridProcess> process;

  static std::unique_ptr<Hybrid> load() {
    auto h = std::make_unique<Hybrid>();
    auto image = readPeImage(corpusImage("hybrid.arm64ec.dll"));
    EXPECT_TRUE(image.ok());
    if (!image) return nullptr;
    h->image = std::move(image).value();
    auto process = HybridProcess::create(h->image, std::nullopt);
    EXPECT_TRUE(process.ok()) << (process.ok() ? "" : process.error().message);
    if (!process) return nullptr;
    h->process = std::move(process).value();
    return h;
  }
  uint64_t address(const std::string& function) const {
    const FunctionInfo* f = image.findFunction(function);
    EXPECT_NE(f, nullptr) << function;
    return f ? process->loaded().address(f->begin) : 0;
  }
  HybridCallResult call(const std::string& function, std::vector<uint64_t> args) {
    auto r = process->call(address(function), args, CallOptions{.precisePc = true});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : HybridCallResult{};
  }
};

using Args = std::array<uint64_t, 6>;

struct HybridExport {
  const char* name;
  size_t arity;
  std::function<uint64_t(const Args&)> reference;
  uint64_t crossings;  // x64 caller -> Arm64EC entry -> ... -> back
};

const std::vector<HybridExport>& exports() {
  static const std::vector<HybridExport> all = {
      {"add", 2, [](const Args& a) { return hybrid_add(a[0], a[1]); }, 2},
      {"mul", 2, [](const Args& a) { return hybrid_mul(a[0], a[1]); }, 2},
      {"square_of", 1, [](const Args& a) { return hybrid_square_of(a[0]); }, 2},
      {"sum_squares", 2, [](const Args& a) { return hybrid_sum_squares(a[0], a[1]); }, 2},
      // mul through dispatch_call: the unpatched entry stays Arm64
      {"scaled", 2, [](const Args& a) { return hybrid_scaled(a[0], a[1]); }, 2},
      // add through check_icall: an Arm64EC target
      {"apply_add", 2, [](const Args& a) { return hybrid_apply_add(a[0], a[1]); }, 2},
      // through check_icall and an exit thunk to x64 code and back
      {"ec_calls_x64", 2, [](const Args& a) { return hybrid_ec_calls_x64(a[0], a[1]); }, 4},
      // x64 code calling the Arm64EC body
      {"x64_calls_add", 2, [](const Args& a) { return hybrid_x64_calls_add(a[0], a[1]); }, 2},
      // stack arguments through the entry thunk, and through an exit thunk
      {"sum6", 6, [](const Args& a) { return hybrid_sum6(a[0], a[1], a[2], a[3], a[4], a[5]); }, 2},
      {"x64_calls_sum6", 2, [](const Args& a) { return hybrid_x64_calls_sum6(a[0], a[1]); }, 2},
      {"ec_calls_x64_sum6", 2, [](const Args& a) { return hybrid_ec_calls_x64_sum6(a[0], a[1]); }, 4},
      // variadic: the thunk finds the x64 stack arguments through x4
      {"sum_va", 6, [](const Args& a) { return hybrid_sum_va(a[0] % 6, a[1], a[2], a[3], a[4], a[5]); }, 2},
      {"x64_calls_sum_va", 2, [](const Args& a) { return hybrid_x64_calls_sum_va(a[0], a[1]); }, 2},
      {"ec_calls_sum_va", 2, [](const Args& a) { return hybrid_ec_calls_sum_va(a[0], a[1]); }, 2},
  };
  return all;
}

RC_GTEST_PROP(HybridCall, EveryExportReturnsWhatTheHostBuildReturns, ()) {
  static std::unique_ptr<Hybrid> h = Hybrid::load();
  RC_ASSERT(h != nullptr);
  const HybridExport& e = *rc::gen::elementOf(exports());
  Args args;
  for (uint64_t& a : args) a = *rc::gen::arbitrary<uint64_t>();
  if (std::string_view(e.name) == "sum_va") args[0] %= 6;  // the count of what follows
  const HybridCallResult r = h->call(e.name, std::vector<uint64_t>(args.begin(), args.begin() + e.arity));
  RC_LOG() << e.name << ": " << (r.call.fault ? r.call.fault->describe() : std::to_string(r.call.value)) << " vs "
           << e.reference(args) << "\n";
  RC_ASSERT(!r.call.fault.has_value());
  RC_ASSERT(r.call.value == e.reference(args));
  RC_ASSERT(r.crossings == e.crossings);
}

// Each entry path takes the routine Windows' emulator provides for it.
TEST(HybridCall, EachEntryPathGoesThroughItsRoutine) {
  auto h = Hybrid::load();
  ASSERT_TRUE(h);
  using R = std::vector<Arm64xRoutine>;
  EXPECT_EQ(h->call("add", {1, 2}).routines, R{Arm64xRoutine::kDispatchRet});
  EXPECT_EQ(h->call("scaled", {1, 2}).routines, (R{Arm64xRoutine::kDispatchCall, Arm64xRoutine::kDispatchRet}));
  EXPECT_EQ(h->call("apply_add", {1, 2}).routines, (R{Arm64xRoutine::kDispatchIcall, Arm64xRoutine::kDispatchRet}));
  EXPECT_EQ(h->call("ec_calls_x64", {7, 2}).routines,
            (R{Arm64xRoutine::kDispatchIcall, Arm64xRoutine::kDispatchCallNoRedirect, Arm64xRoutine::kDispatchRet}));
}

// x64 code written over an x64 entry (what an `x64-entry` patch does): callers that go
// through that entry reach it, callers that do not keep running the Arm64EC body.
constexpr uint8_t kReturn42[] = {0x48, 0xC7, 0xC0, 0x2A, 0x00, 0x00, 0x00, 0xC3};  // mov rax, 42; ret

TEST(HybridCall, APatchedX64EntryOfAPlainFunctionIsMissedByItsDirectCallers) {
  auto h = Hybrid::load();
  ASSERT_TRUE(h);
  ASSERT_TRUE(h->process->writeCode(h->address("add"), kReturn42));
  EXPECT_EQ(h->call("add", {2, 3}).call.value, 42u);  // x64 callers through the export
  // x64 code resolved to the body, Arm64EC callers (direct and through a pointer): old.
  EXPECT_EQ(h->call("x64_calls_add", {2, 3}).call.value, 105u);
  EXPECT_EQ(h->call("scaled", {2, 3}).call.value, 21u);
  EXPECT_EQ(h->call("apply_add", {2, 3}).call.value, 6u);
}

TEST(HybridCall, APatchedX64EntryOfAHybridPatchableFunctionIsReachedByItsArm64Callers) {
  auto h = Hybrid::load();
  ASSERT_TRUE(h);
  const HybridCallResult before = h->call("scaled", {2, 3});
  EXPECT_EQ(before.call.value, 21u);  // add(2,3)*3 + mul(2,3)
  ASSERT_TRUE(h->process->writeCode(h->address("mul"), kReturn42));
  const HybridCallResult after = h->call("scaled", {2, 3});
  EXPECT_EQ(after.call.value, 15u + 42u);
  // dispatch_call saw the entry changed: the call crossed to the x64 code and back.
  EXPECT_EQ(after.crossings, before.crossings + 2);
  EXPECT_EQ(h->call("mul", {2, 3}).call.value, 42u);
}

// A null function pointer: check_icall sends it to x64 code through the exit thunk, and
// the x64 engine faults fetching address 0.
TEST(HybridCall, ANullFunctionPointerFaultsOnTheX64EngineAtZero) {
  auto h = Hybrid::load();
  ASSERT_TRUE(h);
  const HybridCallResult r = h->call("apply", {0, 1, 2});
  ASSERT_TRUE(r.call.fault);
  EXPECT_EQ(r.call.fault->kind, FaultKind::kUnmappedFetch) << r.call.fault->describe();
  EXPECT_EQ(r.call.fault->pc, 0u);
  // The machine runs on: the next call is fine.
  EXPECT_EQ(h->call("add", {2, 3}).call.value, 5u);
}

// A fault in Arm64EC code is reported at its instruction, disassembled as Arm64.
TEST(HybridCall, AFaultInArm64CodeNamesItsArm64Instruction) {
  auto h = Hybrid::load();
  ASSERT_TRUE(h);
  // square_of's body, made to load through x0: ldr x0, [x0]; ret.
  const uint32_t code[] = {0xf9400000, 0xd65f03c0};
  std::vector<uint8_t> bytes(8);
  std::memcpy(bytes.data(), code, 8);
  const HybridFunction* body = nullptr;
  for (const HybridFunction& f : h->image.chpe->functions)
    if (f.name == "square_of") body = &f;
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(h->process->writeCode(h->process->loaded().address(body->body), bytes));
  const HybridCallResult r = h->call("square_of", {0x10});
  ASSERT_TRUE(r.call.fault);
  EXPECT_EQ(r.call.fault->kind, FaultKind::kUnmappedRead) << r.call.fault->describe();
  EXPECT_EQ(r.call.fault->pc, h->process->loaded().address(body->body));
  EXPECT_EQ(r.call.fault->address, 0x10u);
  EXPECT_NE(r.call.fault->instruction.find("ldr"), std::string::npos) << r.call.fault->instruction;
}

// A routine that returns to its own address runs no instruction between calls: each call
// of a routine costs one unit of the budget, so such a guest is a runaway, not a hang (found
// by hph_fuzz_hybrid_code; before, the call never returned).
TEST(HybridCall, ARoutineReturningToItselfRunsOutOfBudget) {
  auto h = Hybrid::load();
  ASSERT_TRUE(h);
  // square_of's body: ldr x30, =dispatch_icall; br x30 (x30, where the routine returns to,
  // is the routine itself).
  const uint64_t routine = hybrid::routineAddress(Arm64xRoutine::kDispatchIcall);
  const uint32_t code[] = {0x5800005e, 0xd61f03c0, static_cast<uint32_t>(routine),
                           static_cast<uint32_t>(routine >> 32)};
  std::vector<uint8_t> bytes(sizeof code);
  std::memcpy(bytes.data(), code, sizeof code);
  const HybridFunction* body = nullptr;
  for (const HybridFunction& f : h->image.chpe->functions)
    if (f.name == "square_of") body = &f;
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(h->process->writeCode(h->process->loaded().address(body->body), bytes));
  auto r = h->process->call(h->address("square_of"), std::vector<uint64_t>{1}, CallOptions{.instructionBudget = 5000});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->call.fault);
  EXPECT_EQ(r->call.fault->kind, FaultKind::kBudgetExhausted) << r->call.fault->describe();
  EXPECT_GT(r->routines.size(), 1000u);
  // Routine calls and crossings are not instructions: a call gets exactly the budget its
  // instructions need.
  auto h2 = Hybrid::load();
  ASSERT_TRUE(h2);
  auto normal = h2->process->call(h2->address("square_of"), std::vector<uint64_t>{3});
  ASSERT_TRUE(normal.ok() && normal->call.completed());
  EXPECT_EQ(normal->call.value, 9u);
  const uint64_t needed = normal->call.instructions;
  auto exact =
      h2->process->call(h2->address("square_of"), std::vector<uint64_t>{3}, CallOptions{.instructionBudget = needed});
  ASSERT_TRUE(exact.ok());
  EXPECT_TRUE(exact->call.completed()) << (exact->call.fault ? exact->call.fault->describe() : "");
  auto short1 = h2->process->call(h2->address("square_of"), std::vector<uint64_t>{3},
                                  CallOptions{.instructionBudget = needed - 1});
  ASSERT_TRUE(short1.ok());
  ASSERT_TRUE(short1->call.fault);
  EXPECT_EQ(short1->call.fault->kind, FaultKind::kBudgetExhausted);
}

// Each engine runs whole pages of its kind: a code map whose x64 range begins on the
// Arm64EC range's page is refused, naming the field.
TEST(HybridCall, ACodeMapSharingAPageBetweenKindsIsBadInput) {
  auto image = readPeImage(corpusImage("hybrid.arm64ec.dll"));
  ASSERT_TRUE(image.ok());
  PeImage shared = std::move(image).value();
  ASSERT_EQ(shared.chpe->codeMap.size(), 2u);
  ChpeRange& x64 = shared.chpe->codeMap[1];
  x64.length += x64.begin - 0x1800;
  x64.begin = 0x1800;  // the Arm64EC range's page is 0x1000
  auto process = HybridProcess::create(shared, std::nullopt);
  ASSERT_FALSE(process.ok());
  EXPECT_EQ(process.error().status, Status::kBadInput);
  EXPECT_NE(process.error().message.find("CHPE metadata.CodeMap: the page at 0x1000"), std::string::npos)
      << process.error().message;
}

}  // namespace
}  // namespace hph::test
