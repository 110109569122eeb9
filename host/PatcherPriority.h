// The patcher runs at real-time priority (SCHED_FIFO 1) while it applies a plan, where
// the host allows it (root, CAP_SYS_NICE or RLIMIT_RTPRIO). Why: every thread it resumes
// (a PTRACE_CONT, a futex wake) is runnable at once and may preempt it, and with more
// threads than cores it then waits for the kernel's next tick to go on. Measured on 2
// cores, 16 threads, external stop-the-world: its resume-all step took 6.5-22 ms at
// normal priority and about 55 us at SCHED_FIFO. It never spins while it holds the core:
// it sleeps whenever it waits for the threads. Where the host refuses, the patcher runs at
// its normal priority, and the report says which (JSON `patcher_realtime`).
#pragma once

#include <pthread.h>
#include <sched.h>

namespace hph {

class PatcherPriority {
 public:
  PatcherPriority() {
    pthread_getschedparam(pthread_self(), &policy_, &previous_);
    sched_param fifo{};
    fifo.sched_priority = 1;
    raised_ = pthread_setschedparam(pthread_self(), SCHED_FIFO, &fifo) == 0;
  }
  ~PatcherPriority() {
    if (raised_) pthread_setschedparam(pthread_self(), policy_, &previous_);
  }
  PatcherPriority(const PatcherPriority&) = delete;
  PatcherPriority& operator=(const PatcherPriority&) = delete;
  bool raised() const { return raised_; }

 private:
  int policy_ = SCHED_OTHER;
  sched_param previous_{};
  bool raised_ = false;
};

}  // namespace hph
