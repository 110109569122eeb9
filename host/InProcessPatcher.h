// The in-process patcher: a thread of the runner executes the Plan's steps on the live
// threads (applyPlan over this target). Which primitive carries which step:
//   store (live)       one __atomic_store_n per single-copy-atomic piece (StoreAtomicity),
//                      through the writable alias of the code pages
//   store (not live)   memcpy through the alias (nothing fetches those bytes yet)
//   cache-maintenance  thread_arch::codeChanged: __builtin___clear_cache over the range (a
//                      no-op on x86-64), and under qemu-user what its translator needs
//   sync-all           membarrier(PRIVATE_EXPEDITED_SYNC_CORE): every thread of the
//                      process context-synchronises before it returns
//   suspend/resume-all a real-time signal whose handler parks the thread (GuestThreads)
//   move-pc            the parked thread's saved PC, rewritten in its signal context
//   release            park everyone, look at the PCs, let go; again until none is inside
// The runner's agent (RunnerAgent.h) serves an external patcher's requests with this
// same target, where ptrace cannot reach the threads.
#pragma once

#include <string>

#include "host/GuestThreads.h"
#include "host/HostJob.h"
#include "host/HostMemory.h"
#include "host/PatchTarget.h"

namespace hph {

class InProcessPatcher : public PatchTarget {
 public:
  InProcessPatcher(HostMemory& memory, GuestThreads& threads) : memory_(memory), threads_(threads) {}
  // membarrier SYNC_CORE must be registered before a plan may use it.
  static bool prepare(const Plan& plan, std::string& error);

  bool store(const StoreStep& step, std::string& error) override;
  bool cacheMaintenance(uint64_t address, uint64_t size, std::string& error) override;
  bool syncAll(std::string& error) override;
  bool suspendAll(std::string& error) override { return threads_.suspendAll(error); }
  void resumeAll() override { threads_.resumeAll(); }
  std::vector<StoppedThread> stoppedThreads() override;
  bool setPc(const StoppedThread& thread, uint64_t pc, std::string& error) override;
  bool returnAddressInside(uint64_t from, uint64_t size, std::optional<std::string>& found,
                           std::string& error) override;

 private:
  HostMemory& memory_;
  GuestThreads& threads_;
};

}  // namespace hph
