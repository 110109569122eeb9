// How many exploration jobs this process can run: no more than the CPUs it may use
// (more only share them), and no more than its address-space limit (ulimit -v) holds.
// Each job opens Unicorn engines whose translation buffer is reserved up front, and
// Unicorn 2.0.1 answers a failed reservation by printing "Could not allocate dynamic
// translator buffer" and calling exit(1) — which would read as "property violated". So
// the limit is checked before any engine is opened.
#pragma once

#include <cstdint>
#include <string>

#include "support/Result.h"

namespace hph {

struct JobPlan {
  uint32_t jobs = 1;
  std::string note;  // why fewer jobs than asked for run ("" when as asked)
};

// requested: 0 means every CPU. enginesPerJob: Unicorn engines each job opens.
// An error (Status::kResource) when not even one job fits.
Result<JobPlan> planJobs(uint32_t requested, uint32_t enginesPerJob);

// The address space one more engine needs: a failure is a resource error, not exit 1.
Result<void> checkRoomForEngines(uint32_t engines);

}  // namespace hph
