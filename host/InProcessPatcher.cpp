#include "host/InProcessPatcher.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "host/AliasStore.h"
#include "host/ThreadArch.h"
#include "support/HexText.h"

namespace hph {
namespace {

int membarrier(int command) { return static_cast<int>(syscall(__NR_membarrier, command, 0, 0)); }

}  // namespace

bool InProcessPatcher::prepare(const Plan& plan, std::string& error) {
  // Registering is needed only by a plan that issues it (hph refused a host without it).
  const bool syncs = std::any_of(plan.steps.begin(), plan.steps.end(),
                                 [](const Step& s) { return std::holds_alternative<SyncAllStep>(s); });
  if (syncs && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) != 0) {
    error = "membarrier: MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE is not available on this kernel";
    return false;
  }
  return true;
}

bool InProcessPatcher::store(const StoreStep& step, std::string& error) {
  uint8_t* alias = memory_.writable(step.address, step.bytes.size());
  if (!alias) {
    error = "the store lies outside the mapped images";
    return false;
  }
  return storeThroughAlias(alias, step, error);
}

bool InProcessPatcher::cacheMaintenance(uint64_t address, uint64_t size, std::string&) {
  thread_arch::codeChanged(address, size);
  return true;
}

bool InProcessPatcher::syncAll(std::string& error) {
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) == 0) return true;
  error = "membarrier SYNC_CORE failed";
  return false;
}

std::vector<StoppedThread> InProcessPatcher::stoppedThreads() {
  std::vector<StoppedThread> stopped;
  for (size_t t = 0; t < threads_.size(); ++t)
    if (const auto pc = threads_.pcOf(t)) stopped.push_back({t, *pc});
  return stopped;
}

bool InProcessPatcher::setPc(const StoppedThread& thread, uint64_t pc, std::string& error) {
  // The id may come from another process (the agent's mailbox): check it.
  if (thread.id >= threads_.size() || !threads_.pcOf(thread.id)) {
    error = "thread " + std::to_string(thread.id) + " is not suspended";
    return false;
  }
  threads_.setPc(thread.id, pc);
  return true;
}

bool InProcessPatcher::returnAddressInside(uint64_t from, uint64_t size, std::optional<std::string>& found,
                                           std::string&) {
  found.reset();
  for (size_t t = 0; t < threads_.size() && !found; ++t)
    if (const auto inside = threads_.returnAddressInside(t, from, size))
      found =
          "thread " + std::to_string(t) + " has return address " + hexAddress(inside->first) +
          (inside->second ? " on its stack at " + hexAddress(inside->second) : std::string(" in its link register"));
  return true;
}

}  // namespace hph
