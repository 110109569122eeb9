// The one interpreter of a Plan on a real process, for both host patchers: each step in
// order, timed, over a PatchTarget. Move-pc steps blocked by a return address inside
// their span go back to the suspend-all before them (MoveRetries.h), as the emulator's
// plan does; a release step waits until no thread is inside its range.
#pragma once

#include <functional>
#include <string>

#include "host/HostJob.h"
#include "host/PatchTarget.h"

namespace hph {

// false with `error` naming the step (and result.gaveUp set when move-pc retries ran out).
// `afterStep(n)` runs once n steps are done (the kill-at-every-step runs end the patcher
// there).
bool applyPlan(PatchTarget& target, const Plan& plan, HostResult& result, std::string& error,
               const std::function<void(size_t)>& afterStep = {});

}  // namespace hph
