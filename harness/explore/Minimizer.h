// Shrinks a counterexample: the default schedule alone, then chunks of off-default
// decisions of halving size dropped while the same property still fails, preferring
// fewer preemptions, then fewer decisions.
#pragma once

#include "emu/core/Schedule.h"

namespace hph {

class Session;

RunRecord minimizeCounterexample(Session& session, RunRecord found, uint32_t maxRuns = 200);

}  // namespace hph
