// The driver both result-liveness walks share (x64/ResultLiveness, arm64/ResultLiveness):
// every path from the first is followed until it ends, forking at conditional branches,
// and a path back where another was in the same state is not followed again. A step that
// says "observed", or a walk past its bounds, ends the whole walk: the results count as
// observed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace hph {

enum class WalkStep { kOn, kDone, kObserved };

struct WalkBounds {
  size_t instructions = 512;
  size_t paths = 32;
};

// Path: copyable, with done() (nothing derived is left) and key() (comparable state).
// step(Path&, std::vector<Path>& forks) advances one instruction.
template <typename Path, typename Step> bool everyPathDropsTheResults(Path first, WalkBounds bounds, Step step) {
  if (first.done()) return true;
  std::vector<Path> pending{std::move(first)};
  std::vector<Path> seenPaths;
  size_t instructions = 0, paths = 1;
  while (!pending.empty()) {
    Path path = std::move(pending.back());
    pending.pop_back();
    for (;;) {
      if (std::any_of(seenPaths.begin(), seenPaths.end(), [&](const Path& p) { return p.key() == path.key(); })) break;
      seenPaths.push_back(path);
      if (++instructions > bounds.instructions) return false;
      std::vector<Path> forks;
      const WalkStep s = step(path, forks);
      if (s == WalkStep::kObserved) return false;
      for (Path& fork : forks) {
        if (++paths > bounds.paths) return false;
        if (!fork.done()) pending.push_back(std::move(fork));
      }
      if (s == WalkStep::kDone) break;
    }
  }
  return true;
}

}  // namespace hph
