// SIGINT / SIGTERM during `hph check`: the search stops where it is, the scenario's
// verdict is `inconclusive`, and every report asked for is still written. A signal
// handler can only reach process-wide state, so the one flag it sets lives here; the
// explorer reads it through ExploreOptions, never by name.
#pragma once

#include <atomic>

namespace hph {

// While one is alive, the first SIGINT or SIGTERM sets `requested()`; a second one ends
// the process the default way (a user who presses Ctrl-C twice means it).
class InterruptionScope {
 public:
  InterruptionScope();
  ~InterruptionScope();
  InterruptionScope(const InterruptionScope&) = delete;
  InterruptionScope& operator=(const InterruptionScope&) = delete;

  const std::atomic<bool>& requested() const;
  // Which signal arrived (0: none), for the message.
  int signal() const;
};

}  // namespace hph
