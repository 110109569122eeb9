// The external patcher: the Windows model, where the patch arrives from outside the
// process. It maps the runner's guest-image memfd (found in /proc/PID/fd) writable and
// makes every store itself, one __atomic_store_n per single-copy-atomic piece (a
// /proc/PID/mem write is a kernel memcpy and promises no width). How it reaches the
// threads depends on the runner (threadsThroughAgent, HostJob.h):
//   PtracePatcher  x64: ptrace seizes every thread (PtracePatcher.h)
//   AgentPatcher   arm64 under qemu-user: the runner's agent acts for it (AgentPatcher.h)
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "host/HostJob.h"
#include "host/PatchTarget.h"

namespace hph {

class ExternalPatcher : public PatchTarget {
 public:
  // Opens the runner's memfd, waits for its threads to run, and takes hold of them.
  static std::unique_ptr<ExternalPatcher> attach(pid_t target, const HostJob& job, std::string& error);
  ~ExternalPatcher() override;

  bool store(const StoreStep& step, std::string& error) override;
  // What the runner's threads count their calls under (the control page).
  void setPhase(PlanPhase phase);
  // Stops every thread and single-steps one guest thread until its PC is `pc` (within
  // `maxSteps` steps); it stays stopped there until the next resume or detach.
  virtual bool parkAt(uint64_t pc, uint64_t maxSteps, std::string& error);
  // Once the runner's threads run: whatever the patcher needs before it can stop them.
  virtual bool takeHold(std::string&) { return true; }
  // Lets go of every thread, stopped or not.
  virtual void detach() {}

 protected:
  ExternalPatcher() = default;
  HostControl& control() const { return *reinterpret_cast<HostControl*>(alias_ + total_ - kControlPageBytes); }

  pid_t target_ = 0;

 private:
  std::vector<HostMapping> layout_;
  uint8_t* alias_ = nullptr;
  uint64_t total_ = 0;
};

}  // namespace hph
