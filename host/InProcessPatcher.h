// The in-process patcher: a thread of the runner executes the Plan's steps on the live
// threads. Which primitive carries which step:
//   store (live)       one __atomic_store_n per single-copy-atomic piece (StoreAtomicity),
//                      through the writable alias of the code pages
//   store (not live)   memcpy through the alias (nothing fetches those bytes yet)
//   cache-maintenance  __builtin___clear_cache over the range (a no-op on x86-64)
//   sync-all           membarrier(PRIVATE_EXPEDITED_SYNC_CORE): every thread of the
//                      process context-synchronises before it returns
//   suspend/resume-all a real-time signal whose handler parks the thread (GuestThreads)
//   move-pc            the parked thread's saved PC, rewritten in its signal context
//   release            park everyone, look at the PCs, let go; again until none is inside
#pragma once

#include <functional>
#include <string>

#include "host/GuestThreads.h"
#include "host/HostJob.h"
#include "host/HostMemory.h"

namespace hph {

class InProcessPatcher {
 public:
  InProcessPatcher(HostMemory& memory, GuestThreads& threads) : memory_(memory), threads_(threads) {}
  // membarrier SYNC_CORE must be registered before a plan may use it.
  static bool prepare(const Plan& plan, std::string& error);
  // Applies every step in order, timing each; false with `error` naming the step.
  bool apply(const Plan& plan, HostResult& result, std::string& error,
             const std::function<void(size_t)>& afterStep = {});

 private:
  bool store(const StoreStep& step, std::string& error);
  bool movePcs(const MovePcStep& step, std::string& error);
  // A suspended thread's return address inside the step's span, described; nullopt: none.
  std::optional<std::string> blockingReturnAddress(const MovePcStep& step) const;
  bool release(const ReleaseStep& step, std::string& error);

  HostMemory& memory_;
  GuestThreads& threads_;
};

}  // namespace hph
