// The branches of one preemption level still to search, shared by the jobs: a branch is
// an alternative choice at a node of the first run. Under dpor a search can ask for more
// branches (a race it found reaches back into the first run), so the queue grows while
// it drains; it is finished when it is empty and no job is still searching one that could
// ask. Each branch is searched once, whichever job asked first.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "emu/core/Schedule.h"

namespace hph {

struct Branch {
  size_t node = 0;
  ActorId actor = kNoActor;
  auto operator<=>(const Branch&) const = default;
  // A total order over branches that does not depend on which job found them first.
  uint64_t key() const { return (static_cast<uint64_t>(node) << 32) | static_cast<uint32_t>(actor); }
};

class BranchQueue {
 public:
  // Queues a branch not queued before.
  void add(Branch branch) {
    std::lock_guard lock(mutex_);
    if (!seen_.insert(branch).second) return;
    pending_.push_back(branch);
    ready_.notify_one();
  }
  // The next branch to search, or nullopt when every branch is searched (or stop() was
  // called). A job that takes one calls finished() when its search is over or abandoned.
  std::optional<Branch> take() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return stopped_ || !pending_.empty() || busy_ == 0; });
    if (stopped_ || pending_.empty()) return std::nullopt;
    const Branch branch = pending_.front();
    pending_.pop_front();
    ++busy_;
    return branch;
  }
  // `complete`: the branch was searched to the end (not abandoned by a stop).
  void finished(bool complete) {
    std::lock_guard lock(mutex_);
    --busy_;
    searched_ += complete ? 1 : 0;
    if (busy_ == 0) ready_.notify_all();
  }
  void stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    ready_.notify_all();
  }
  // Branches searched to the end, and all branches known so far.
  std::pair<size_t, size_t> searchedOfKnown() const {
    std::lock_guard lock(mutex_);
    return {searched_, seen_.size()};
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Branch> pending_;
  std::set<Branch> seen_;
  size_t busy_ = 0;
  size_t searched_ = 0;
  bool stopped_ = false;
};

}  // namespace hph
