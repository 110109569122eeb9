// The external patcher on the arm64 runner, which runs under qemu-user: ptrace there
// reaches qemu's registers, not the guest's, so the patcher asks the runner's agent
// (RunnerAgent.h) to act on the threads, one request at a time through the control page
// (AgentMailbox.h). Which primitive carries which step:
//   store              the runner's memfd mapped here (ExternalPatcher): from outside
//   cache-maintenance  the agent runs it in the target (thread_arch::codeChanged), which
//                      is also what makes qemu's translator see a store from outside
//   sync-all           the agent: membarrier SYNC_CORE inside the target
//   suspend/resume-all the agent: the runner's signal handshake (GuestThreads)
//   move-pc            the agent: the parked thread's saved PC
//   release            suspend through the agent, read the PCs it reports, resume
// If the patcher dies, hph tells the runner, and the agent lets go of any thread it
// holds, as the kernel does for a dead tracer.
#pragma once

#include "host/ExternalPatcher.h"

namespace hph {

class AgentPatcher : public ExternalPatcher {
 public:
  bool cacheMaintenance(uint64_t address, uint64_t size, std::string& error) override;
  bool syncAll(std::string& error) override;
  bool suspendAll(std::string& error) override;
  void resumeAll() override;
  std::vector<StoppedThread> stoppedThreads() override { return stopped_; }
  bool setPc(const StoppedThread& thread, uint64_t pc, std::string& error) override;
  bool returnAddressInside(uint64_t from, uint64_t size, std::optional<std::string>& found,
                           std::string& error) override;

 private:
  // Posts one request and waits for the agent's answer; false with `error` when the
  // agent failed or did not answer.
  bool ask(AgentCommand command, uint64_t first, uint64_t second, std::string& error);

  uint32_t posted_ = 0;
  std::vector<StoppedThread> stopped_;  // as of the last suspend-all
};

}  // namespace hph
