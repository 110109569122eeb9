// C5's reference runs: the old and the new function of each pure site called on their own,
// on a machine of their own that holds the scenario's images unpatched; results memoised
// by arguments. And the call-site scan that says where a pure function's direct callers
// resume (watched, so the checker sees every call's result).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "emu/core/Machine.h"
#include "patch/PatchLayout.h"
#include "properties/PropertyMonitor.h"

namespace hph {

class ReferenceMachine final : public ReferenceCalls {
 public:
  // `threadBudget`: instructions a reference call may run (the scenario's per-thread budget).
  static Result<std::unique_ptr<ReferenceMachine>> create(const PeImage& base, const PatchLayout& layout,
                                                          uint64_t threadBudget);
  std::optional<std::pair<uint64_t, uint64_t>> results(size_t site, const std::vector<uint64_t>& args) override;

 private:
  ReferenceMachine() = default;
  std::vector<std::pair<uint64_t, uint64_t>> entries_;  // per site: old entry, new entry
  uint64_t threadBudget_ = 0;
  std::unique_ptr<Machine> machine_;
  MemorySnapshot initial_;
  std::map<std::pair<size_t, std::vector<uint64_t>>, std::optional<std::pair<uint64_t, uint64_t>>> memo_;
};

// Where the direct calls of `entry` anywhere in `image`'s functions return to.
std::vector<uint64_t> directCallReturnSites(const PeImage& image, uint64_t entry);

}  // namespace hph
