// The runner's agent (host/RunnerAgent.h) against a patcher side played by the test: the
// mailbox words written as AgentPatcher writes them, a scripted target behind the agent.
#include "host/RunnerAgent.h"

#include <gtest/gtest.h>

#include <csignal>
#include <thread>

namespace hph {
namespace {

struct CountingTarget : PatchTarget {
  int suspends = 0, resumes = 0;
  bool store(const StoreStep&, std::string&) override { return true; }
  bool cacheMaintenance(uint64_t, uint64_t, std::string&) override { return true; }
  bool syncAll(std::string&) override { return true; }
  bool suspendAll(std::string&) override {
    ++suspends;
    return true;
  }
  void resumeAll() override { ++resumes; }
  std::vector<StoppedThread> stoppedThreads() override { return {{0, 0x1000}, {1, 0x2000}}; }
  bool setPc(const StoppedThread&, uint64_t, std::string&) override { return true; }
  bool returnAddressInside(uint64_t, uint64_t, std::optional<std::string>&, std::string&) override { return true; }
};

void post(HostControl& control, uint32_t request, AgentCommand command) {
  __atomic_store_n(&control.agent.commandFor, 0u, __ATOMIC_RELEASE);
  control.agent.command = static_cast<uint64_t>(command);
  __atomic_store_n(&control.agent.commandFor, request, __ATOMIC_RELEASE);
  __atomic_store_n(&control.agent.request, request, __ATOMIC_RELEASE);
  futexWakeAll(&control.agent.request);
}

// A request posted before the agent first looks (the runner said "ready" and was not
// scheduled again until the patcher had asked) is answered. The agent once took the
// posted number as already served, and the patcher waited 10 s for nothing.
TEST(RunnerAgent, AnswersARequestPostedBeforeItFirstLooked) {
  HostControl control{};
  CountingTarget target;
  post(control, 1, AgentCommand::kSuspendAll);
  volatile std::sig_atomic_t gone = 0;
  std::thread patcher([&] {
    for (int i = 0; i < 2000 && __atomic_load_n(&control.agent.response, __ATOMIC_ACQUIRE) != 1; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    __atomic_store_n(&control.phase, static_cast<uint64_t>(PlanPhase::kAfter), __ATOMIC_RELEASE);
  });
  EXPECT_EQ(serveAgent(control, target, gone, 3000), AgentEnd::kPlanDone);
  patcher.join();
  EXPECT_EQ(control.agent.response, 1u);
  EXPECT_EQ(control.agent.ok, 1u);
  EXPECT_EQ(control.agent.stoppedCount, 2u);
  EXPECT_EQ(control.agent.stopped[1].pc, 0x2000u);
}

// However the agent stops serving (the plan said done, the patcher died, or it timed out),
// threads it suspended are resumed: parked threads would never see the runner's stop.
TEST(RunnerAgent, NeverLeavesThreadsSuspended) {
  for (const AgentEnd why : {AgentEnd::kPlanDone, AgentEnd::kPatcherGone, AgentEnd::kTimedOut}) {
    HostControl control{};
    CountingTarget target;
    volatile std::sig_atomic_t gone = 0;
    std::thread patcher([&] {
      post(control, 1, AgentCommand::kSuspendAll);
      for (int i = 0; i < 2000 && __atomic_load_n(&control.agent.response, __ATOMIC_ACQUIRE) != 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (why == AgentEnd::kPlanDone)
        __atomic_store_n(&control.phase, static_cast<uint64_t>(PlanPhase::kAfter), __ATOMIC_RELEASE);
      if (why == AgentEnd::kPatcherGone) gone = 1;
    });
    EXPECT_EQ(serveAgent(control, target, gone, why == AgentEnd::kTimedOut ? 300 : 5000), why);
    patcher.join();
    EXPECT_EQ(target.suspends, 1);
    EXPECT_EQ(target.resumes, 1) << static_cast<int>(why);
  }
}

}  // namespace
}  // namespace hph
