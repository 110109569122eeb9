// The runner's one clock for call latencies and the guest's time shims: CLOCK_MONOTONIC
// through the vDSO, some 20 ns a read.
#pragma once

#include <time.h>

#include <cstdint>

namespace hph {

inline uint64_t monotonicNs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace hph
