// A run as it was before one of its decisions: enough to resume it there instead of
// re-executing the choices that led to it (the exhaustive search runs many schedules
// that share a long prefix with the one before). Taken and resumed by the Scheduler, only
// where nothing is half done: no RMW write held back, no stale version in memory.
#pragma once

#include <any>
#include <cstdint>

#include "emu/core/Machine.h"
#include "emu/core/PatcherActor.h"
#include "emu/core/Process.h"
#include "emu/core/RunState.h"
#include "emu/core/Schedule.h"
#include "emu/core/StaleFetch.h"

namespace hph {

struct RunCheckpoint {
  // Taken before decision `point` (run.choices holds the `point` choices before it), of
  // this kind; kInstruction: the running thread stands before the watched instruction at
  // pc, which the checkers have seen.
  uint64_t point = 0;
  PointKind kind = PointKind::kStart;
  uint64_t pc = 0;
  MemoryDelta memory;  // against the snapshot every run starts from
  ProcessCheckpoint process;
  RunState run;  // without source (the resuming run's) and trace (untraced runs only)
  PatcherActor::State patcher;
  StaleFetch::State stale;
  std::any monitor;  // RunMonitor::saveRun
};

}  // namespace hph
