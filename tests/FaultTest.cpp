// Misbehaving guests are reported as structured faults with their PC and instruction;
// the harness never crashes or hangs.
#include <gtest/gtest.h>

#include "tests/TestSupport.h"

namespace hph::test {
namespace {

class Faults : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    corpus_ = loadCorpusImage("faults." + GetParam() + ".dll");
    ASSERT_TRUE(corpus_);
  }
  CallResult run(const std::string& function, uint64_t arg, CallOptions options = {}) {
    options.precisePc = true;
    const uint64_t args[] = {arg};
    auto outcome = corpus_->machine->call(corpus_->address(function), args, options);
    EXPECT_TRUE(outcome.ok()) << (outcome.ok() ? "" : outcome.error().message);
    return outcome.ok() ? *outcome : CallResult{};
  }
  const FunctionInfo& function(const std::string& name) { return *corpus_->image.findFunction(name); }
  bool pcInside(const GuestFault& fault, const std::string& name) {
    const FunctionInfo& f = function(name);
    return fault.pc >= corpus_->loaded.address(f.begin) && fault.pc < corpus_->loaded.address(f.end);
  }
  std::unique_ptr<LoadedCorpusImage> corpus_;
};

TEST_P(Faults, InfiniteLoopIsStoppedByItsBudget) {
  CallOptions options;
  options.instructionBudget = 250'000;
  const CallResult r = run("spin_forever", 1, options);
  ASSERT_TRUE(r.fault);
  EXPECT_EQ(r.fault->kind, FaultKind::kBudgetExhausted);
  EXPECT_TRUE(pcInside(*r.fault, "spin_forever")) << r.fault->describe();
  EXPECT_LE(r.instructions, 250'000u);
  EXPECT_GT(r.instructions, 240'000u);  // it really ran up to the budget
}

TEST_P(Faults, UnmappedReadNamesTheLoadAndTheAddress) {
  const CallResult r = run("read_unmapped", 0x30);
  ASSERT_TRUE(r.fault);
  EXPECT_EQ(r.fault->kind, FaultKind::kUnmappedRead);
  EXPECT_EQ(r.fault->address, 0x10u + 0x30u);
  EXPECT_TRUE(pcInside(*r.fault, "read_unmapped"));
  // The PC is the load itself, not the start of its block.
  EXPECT_NE(r.fault->instruction.find('['), std::string::npos) << r.fault->describe();
  EXPECT_NE(r.fault->location.find("faults." + GetParam() + ".dll+0x"), std::string::npos);
}

TEST_P(Faults, UnmappedWriteIsReported) {
  const CallResult r = run("write_unmapped", 5);
  ASSERT_TRUE(r.fault);
  EXPECT_EQ(r.fault->kind, FaultKind::kUnmappedWrite);
  EXPECT_EQ(r.fault->address, 0x7FF000000000u);
  EXPECT_NE(r.fault->instruction.find('['), std::string::npos) << r.fault->describe();
}

TEST_P(Faults, CallThroughNullIsAnUnmappedFetchAtZero) {
  const CallResult r = run("call_null", 1);
  ASSERT_TRUE(r.fault);
  EXPECT_EQ(r.fault->kind, FaultKind::kUnmappedFetch);
  EXPECT_EQ(r.fault->pc, 0u);
}

TEST_P(Faults, InvalidInstructionIsReportedAtItsPc) {
  const CallResult r = run("invalid_instruction", 1);
  ASSERT_TRUE(r.fault);
  EXPECT_EQ(r.fault->kind, FaultKind::kInvalidInstruction) << r.fault->describe();
  EXPECT_TRUE(pcInside(*r.fault, "invalid_instruction"));
  EXPECT_TRUE(r.fault->instruction == "ud2" || r.fault->instruction == "udf #0") << r.fault->instruction;
}

TEST_P(Faults, StackOverflowIsAnUnmappedWriteBelowTheStack) {
  const CallResult r = run("deep_recursion", 1);
  ASSERT_TRUE(r.fault);
  EXPECT_EQ(r.fault->kind, FaultKind::kUnmappedWrite);
  EXPECT_LT(r.fault->address, Machine::kStackBase);
  EXPECT_GE(r.fault->address, Machine::kStackBase - 0x1000);
}

TEST_P(Faults, MachineStaysUsableAfterAFault) {
  ASSERT_TRUE(run("read_unmapped", 0).fault);
  auto other = loadCorpusImage("basics." + GetParam() + ".dll");
  ASSERT_TRUE(other);
  // A second call on the faulted machine still runs (state is reset per call).
  const CallResult again = run("read_unmapped", 0x40);
  ASSERT_TRUE(again.fault);
  EXPECT_EQ(again.fault->address, 0x50u);
}

TEST_P(Faults, ShimmedImportsRunAndMissingOnesAreRefusedByName) {
  auto imports = loadCorpusImage("imports." + GetParam() + ".dll");
  ASSERT_TRUE(imports);
  const uint64_t five[] = {5};
  auto ok = imports->machine->call(imports->address("thread_id_plus"), five);
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok->completed());
  EXPECT_EQ(ok->value, 5 + imports->machine->currentThreadId());

  auto missing = imports->machine->call(imports->address("needs_missing"), five);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().status, Status::kUnresolvedImport);
  EXPECT_NE(missing.error().message.find("kernel32.dll!GetProcessHeaps"), std::string::npos);
  EXPECT_NE(missing.error().message.find("imports." + GetParam() + ".dll+0x"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(BothArchitectures, Faults, ::testing::Values("x64", "arm64"));

}  // namespace
}  // namespace hph::test
