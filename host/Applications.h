// Applying a job's plan with either patcher: once (the plan as verified), or, to measure
// what applying costs, `applications` times — each time the forward steps (timed) and
// then the unpatch that undoes them, so the next application starts from the original
// bytes again. Either patcher, through its PatchTarget.
#pragma once

#include <functional>
#include <string>

#include "host/HostJob.h"
#include "host/PatchTarget.h"
#include "host/PlanApplier.h"

namespace hph {

inline bool applyJob(PatchTarget& patcher, const HostJob& job, HostResult& result, std::string& error,
                     const std::function<void(size_t)>& afterStep = {}) {
  if (job.applications <= 1 || job.forwardSteps == 0 || job.forwardSteps >= job.plan.steps.size()) {
    if (!applyPlan(patcher, job.plan, result, error, afterStep)) return false;
    result.applicationNanoseconds.push_back(result.applyNanoseconds);
    return true;
  }
  Plan forward, unpatch;
  forward.steps.assign(job.plan.steps.begin(), job.plan.steps.begin() + static_cast<std::ptrdiff_t>(job.forwardSteps));
  unpatch.steps.assign(job.plan.steps.begin() + static_cast<std::ptrdiff_t>(job.forwardSteps), job.plan.steps.end());
  for (uint32_t a = 0; a < job.applications; ++a) {
    HostResult timing;
    if (!applyPlan(patcher, forward, timing, error)) return false;
    result.applicationNanoseconds.push_back(timing.applyNanoseconds);
    if (a == 0) result.stepNanoseconds = timing.stepNanoseconds;
    HostResult untimed;
    if (!applyPlan(patcher, unpatch, untimed, error)) return false;
  }
  result.applyNanoseconds = result.applicationNanoseconds.front();
  return true;
}

}  // namespace hph
