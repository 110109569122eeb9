// The vacuity counters of sampled schedules, summed in schedule order and only up to the
// earliest violation. Jobs finish schedules out of order, and one may finish schedules
// past a violation another job found first: counting those would make the totals depend
// on the job count. Finished schedules wait here until every earlier one has finished.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

namespace hph {

class InOrderTally {
 public:
  // Schedule `index` finished; schedules past `limit` (the earliest violation so far) are
  // never summed.
  void add(uint64_t index, uint64_t stepsWithThreadInWindow, uint64_t patchedCalls, uint64_t limit) {
    std::lock_guard lock(mutex_);
    waiting_[index] = {stepsWithThreadInWindow, patchedCalls};
    while (!waiting_.empty() && waiting_.begin()->first == next_ && next_ <= limit) {
      steps_ += waiting_.begin()->second.first;
      calls_ += waiting_.begin()->second.second;
      waiting_.erase(waiting_.begin());
      ++next_;
    }
  }
  // (steps with a thread in a window, patched calls) of the schedules up to `limit`.
  std::pair<uint64_t, uint64_t> total(uint64_t limit) const {
    std::lock_guard lock(mutex_);
    std::pair<uint64_t, uint64_t> sum{steps_, calls_};
    for (const auto& [index, counts] : waiting_) {
      if (index > limit) break;
      sum.first += counts.first;
      sum.second += counts.second;
    }
    return sum;
  }

 private:
  mutable std::mutex mutex_;
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> waiting_;
  uint64_t next_ = 0;
  uint64_t steps_ = 0, calls_ = 0;
};

}  // namespace hph
