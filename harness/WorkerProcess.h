// One scenario's exploration runs in a child process (a worker), so that a crash inside
// it — Unicorn aborting on bytes it cannot translate, a SIGSEGV in the emulator — ends
// that scenario with an internal error, not the whole `hph check`: the other scenarios'
// verdicts and every report survive.
//
// The worker hands back one string (the scenario's outcome, serialised) through a pipe,
// and keeps a beacon in shared memory up to date (how far it got), so the parent can say
// what was lost when the worker dies. Signals reach the parent (the worker has its own
// process group, so a terminal's Ctrl-C is not delivered twice); the parent forwards the
// first one, and the worker stops its search as `hph check` always did.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace hph {

// Written by the worker, read by the parent after the worker ended.
struct WorkerBeacon {
  std::atomic<uint64_t> schedules{0};
  std::atomic<uint64_t> milliseconds{0};
};

struct WorkerExit {
  std::optional<std::string> output;  // what the work returned; nullopt: it died
  int signal = 0;                     // the signal that ended it (0: it exited)
  int exitStatus = 0;                 // its exit status when it exited without output
  uint64_t schedules = 0;             // the beacon's last word
  double seconds = 0;
  std::string error;  // the worker could not be started at all
};

// Runs `work` in a child process and waits for it. `interrupted` is the parent's signal
// flag (InterruptionScope); once set, `signal()` of it is forwarded to the worker once.
WorkerExit runInWorker(const std::function<std::string(WorkerBeacon&)>& work, const std::atomic<bool>& interrupted,
                       const std::function<int()>& interruptSignal);

// "SIGSEGV (Segmentation fault)".
std::string signalName(int signal);

}  // namespace hph
