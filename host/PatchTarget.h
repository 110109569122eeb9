// What a host patcher acts on: the code and threads of one runner, reached from inside it
// (InProcessPatcher) or from another process (ExternalPatcher). The Plan's steps are
// interpreted once, by applyPlan (PlanApplier.h), over this interface; each patcher says
// which primitive carries each operation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plan/Plan.h"

namespace hph {

// A thread the patcher holds stopped: who it is (a runner index, or a kernel thread id
// for ptrace) and where.
struct StoppedThread {
  uint64_t id = 0;
  uint64_t pc = 0;
};

class PatchTarget {
 public:
  virtual ~PatchTarget() = default;
  // One store step, with the widths and single-copy atomicity the plan states.
  virtual bool store(const StoreStep& step, std::string& error) = 0;
  // The plan's cache maintenance over [address, address + size).
  virtual bool cacheMaintenance(uint64_t address, uint64_t size, std::string& error) = 0;
  // Every thread context-synchronises before this returns.
  virtual bool syncAll(std::string& error) = 0;
  virtual bool suspendAll(std::string& error) = 0;
  virtual void resumeAll() = 0;
  // While suspended: every thread still alive, and where it stopped.
  virtual std::vector<StoppedThread> stoppedThreads() = 0;
  virtual bool setPc(const StoppedThread& thread, uint64_t pc, std::string& error) = 0;
  // While suspended: a return address strictly inside [from, from + size) that some
  // thread holds (link register or stack), described in `found` (nullopt: none). false
  // with `error` when it could not look: not looking is never "none".
  virtual bool returnAddressInside(uint64_t from, uint64_t size, std::optional<std::string>& found,
                                   std::string& error) = 0;
  // Before each step: work the target's threads left for the patcher (ptrace stops).
  virtual void beforeStep() {}
};

}  // namespace hph
