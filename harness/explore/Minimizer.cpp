#include "harness/explore/Minimizer.h"

#include "harness/explore/ReplaySource.h"
#include "harness/explore/Session.h"

namespace hph {
namespace {

bool smaller(const RunRecord& a, const RunRecord& b) {
  return a.preemptions < b.preemptions || (a.preemptions == b.preemptions && a.decisions.size() < b.decisions.size());
}

}  // namespace

// Delta debugging over the decision list (Zeller & Hildebrandt 2002, simplified): first
// the default schedule alone, then drop chunks of halving size while the same property
// still fails with no more preemptions. Deterministic: a fixed budget of runs.
RunRecord minimizeCounterexample(Session& session, RunRecord found, uint32_t maxRuns) {
  RunRecord best = std::move(found);
  const Property property = best.violation->property;
  uint32_t runs = 0;
  auto attempt = [&](const std::vector<std::pair<uint64_t, ActorId>>& decisions) {
    ReplaySource source(decisions);
    RunRecord run = session.run(source);
    ++runs;
    if (run.violation && run.violation->property == property && !run.error && smaller(run, best)) {
      best = std::move(run);
      return true;
    }
    return false;
  };
  if (best.decisions.empty() || attempt({})) return best;
  for (size_t chunk = std::max<size_t>(best.decisions.size() / 2, 1); runs < maxRuns;) {
    bool removed = false;
    for (size_t start = 0; start < best.decisions.size() && runs < maxRuns; start += chunk) {
      auto candidate = best.decisions;
      candidate.erase(candidate.begin() + static_cast<ptrdiff_t>(start),
                      candidate.begin() + static_cast<ptrdiff_t>(std::min(start + chunk, candidate.size())));
      if (attempt(candidate)) {
        removed = true;
        break;  // `best` changed: restart over its (shorter) list at this chunk size
      }
    }
    if (removed) continue;
    if (chunk == 1) break;
    chunk /= 2;
  }
  return best;
}

}  // namespace hph
