// Every corpus function, called under emulation with random arguments on x64 and Arm64,
// returns what the same C source compiled for the host returns.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <functional>

#include "tests/TestSupport.h"

extern "C" {
uint64_t mix64(uint64_t, uint64_t, uint64_t);
uint32_t rotl_xor(uint32_t, uint32_t);
int64_t signed_divmod(int64_t, int64_t);
uint64_t sum8(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
uint64_t popcount_loop(uint64_t);
uint64_t collatz_steps(uint64_t);
uint64_t fib_iter(uint64_t);
uint64_t table_hash(uint64_t);
uint64_t scratch_roundtrip(uint64_t);
uint64_t dispatch(uint64_t, uint64_t, uint64_t);
uint64_t apply_op(uint64_t, uint64_t);
uint64_t fib_rec(uint64_t);
uint64_t gcd_rec(uint64_t, uint64_t);
uint64_t call_chain(uint64_t);
}

namespace hph::test {
namespace {

using Args = std::array<uint64_t, 8>;

struct CorpusFunction {
  const char* name;
  size_t arity;
  // Bits of the return register the ABI defines (a uint32_t result leaves the top undefined).
  uint64_t resultMask;
  std::function<uint64_t(const Args&)> reference;
};

const std::vector<CorpusFunction>& corpusFunctions() {
  static const std::vector<CorpusFunction> functions = {
      {"mix64", 3, ~0ull, [](const Args& a) { return mix64(a[0], a[1], a[2]); }},
      {"rotl_xor", 2, 0xFFFFFFFFull, [](const Args& a) { return uint64_t{rotl_xor(uint32_t(a[0]), uint32_t(a[1]))}; }},
      {"signed_divmod", 2, ~0ull, [](const Args& a) { return uint64_t(signed_divmod(int64_t(a[0]), int64_t(a[1]))); }},
      {"sum8", 8, ~0ull, [](const Args& a) { return sum8(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]); }},
      {"popcount_loop", 1, ~0ull, [](const Args& a) { return popcount_loop(a[0]); }},
      {"collatz_steps", 1, ~0ull, [](const Args& a) { return collatz_steps(a[0]); }},
      {"fib_iter", 1, ~0ull, [](const Args& a) { return fib_iter(a[0]); }},
      {"table_hash", 1, ~0ull, [](const Args& a) { return table_hash(a[0]); }},
      {"scratch_roundtrip", 1, ~0ull, [](const Args& a) { return scratch_roundtrip(a[0]); }},
      {"dispatch", 3, ~0ull, [](const Args& a) { return dispatch(a[0], a[1], a[2]); }},
      {"apply_op", 2, ~0ull, [](const Args& a) { return apply_op(a[0], a[1]); }},
      {"fib_rec", 1, ~0ull, [](const Args& a) { return fib_rec(a[0]); }},
      {"gcd_rec", 2, ~0ull, [](const Args& a) { return gcd_rec(a[0], a[1]); }},
      {"call_chain", 1, ~0ull, [](const Args& a) { return call_chain(a[0]); }},
  };
  return functions;
}

// Arguments biased towards edge values: 0, 1, -1, INT64_MIN, small, and anything.
rc::Gen<uint64_t> interestingU64() {
  return rc::gen::oneOf(rc::gen::element<uint64_t>(0, 1, 2, ~0ull, 1ull << 63, (1ull << 63) - 1, 0xFFFFFFFF),
                        rc::gen::inRange<uint64_t>(0, 64), rc::gen::arbitrary<uint64_t>());
}

class CorpusCall : public ::testing::TestWithParam<std::string> {};

TEST_P(CorpusCall, EveryExportIsCovered) {
  auto corpus = loadCorpusImage("basics." + GetParam() + ".dll");
  ASSERT_TRUE(corpus);
  for (const ExportInfo& e : corpus->image.exports) {
    const bool covered = std::any_of(corpusFunctions().begin(), corpusFunctions().end(),
                                     [&](const CorpusFunction& f) { return e.name == f.name; });
    EXPECT_TRUE(covered) << e.name << " has no host reference in this test";
  }
}

TEST_P(CorpusCall, MatchesHostBuildOnRandomArguments) {
  auto corpus = loadCorpusImage("basics." + GetParam() + ".dll");
  ASSERT_TRUE(corpus);
  for (const CorpusFunction& function : corpusFunctions()) {
    const uint64_t entry = corpus->address(function.name);
    ASSERT_NE(entry, 0u);
    const bool ok = rc::check(std::string(function.name) + " on " + GetParam(), [&] {
      Args args{};
      for (size_t i = 0; i < function.arity; ++i) args[i] = *interestingU64();
      auto outcome = corpus->machine->call(entry, std::span(args.data(), function.arity));
      RC_ASSERT(outcome.ok());
      RC_ASSERT(!outcome->fault.has_value());
      RC_ASSERT((outcome->value & function.resultMask) == (function.reference(args) & function.resultMask));
    });
    EXPECT_TRUE(ok) << function.name;
  }
}

TEST_P(CorpusCall, RelocatedImageGivesTheSameResults) {
  // apply_op calls through a table of absolute pointers: wrong without base relocations.
  auto preferred = loadCorpusImage("basics." + GetParam() + ".dll");
  auto moved = loadCorpusImage("basics." + GetParam() + ".dll", 0x250000000ull);
  ASSERT_TRUE(preferred && moved);
  ASSERT_FALSE(moved->image.relocations.empty());
  for (uint64_t index = 0; index < 4; ++index) {
    const uint64_t args[] = {index, 1234567};
    auto a = preferred->machine->call(preferred->address("apply_op"), args);
    auto b = moved->machine->call(moved->address("apply_op"), args);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(a->completed() && b->completed()) << (b->fault ? b->fault->describe() : "");
    EXPECT_EQ(a->value, b->value);
    EXPECT_EQ(b->value, apply_op(index, 1234567));
  }
}

INSTANTIATE_TEST_SUITE_P(BothArchitectures, CorpusCall, ::testing::Values("x64", "arm64"));

}  // namespace
}  // namespace hph::test
