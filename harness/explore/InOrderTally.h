// The vacuity of sampled schedules, summed in schedule order and only up to the earliest
// violation. Jobs finish schedules out of order, and one may finish schedules past a
// violation another job found first: counting those would make the totals depend on the
// job count. Finished schedules wait here until every earlier one has finished.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include "emu/core/Exercise.h"

namespace hph {

class InOrderTally {
 public:
  // Schedule `index` finished; schedules past `limit` (the earliest violation so far) are
  // never summed.
  void add(uint64_t index, const Exercise& exercise, uint64_t limit) {
    std::lock_guard lock(mutex_);
    waiting_[index] = exercise;
    while (!waiting_.empty() && waiting_.begin()->first == next_ && next_ <= limit) {
      sum_ += waiting_.begin()->second;
      waiting_.erase(waiting_.begin());
      ++next_;
    }
  }
  // The vacuity of the schedules up to `limit`.
  Exercise total(uint64_t limit) const {
    std::lock_guard lock(mutex_);
    Exercise sum = sum_;
    for (const auto& [index, exercise] : waiting_) {
      if (index > limit) break;
      sum += exercise;
    }
    return sum;
  }

 private:
  mutable std::mutex mutex_;
  std::map<uint64_t, Exercise> waiting_;
  uint64_t next_ = 0;
  Exercise sum_;
};

}  // namespace hph
