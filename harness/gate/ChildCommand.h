// `hph gate` runs each stage as an hph command of its own (this very binary): a stage that
// crashes or is killed ends as that stage's failure, not the gate's, and what it printed
// stays in a log beside the reports.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace hph {

struct ChildExit {
  int status = -1;    // the exit status, 128 + the signal that ended it, -1 not started
  std::string error;  // why it could not be started
};

// Runs `hph ARGS...` with its standard output written to `stdoutPath` (standard error
// stays the gate's: a terminal still shows the stage's progress line), without the
// environment variables named in `unset`, in a process group of its own, and waits for it.
// Once `*interrupted` is set (the gate got SIGINT or SIGTERM), the command gets one SIGINT:
// it stops as hph check does on a signal (inconclusive, every report written).
ChildExit runHphCommand(const std::vector<std::string>& args, const std::string& stdoutPath,
                        const std::vector<std::string>& unset, const std::atomic<bool>* interrupted);

}  // namespace hph
