#include "harness/explore/Minimizer.h"

#include "harness/Session.h"
#include "harness/explore/ReplaySource.h"

namespace hph {

RunRecord minimizeCounterexample(Session& session, RunRecord found, uint32_t maxRuns) {
  RunRecord best = std::move(found);
  const std::string property = best.violation->property;
  uint32_t runs = 0;
  for (bool improved = true; improved && runs < maxRuns;) {
    improved = false;
    for (size_t j = best.decisions.size(); j-- > 0 && runs < maxRuns;) {
      auto candidate = best.decisions;
      candidate.erase(candidate.begin() + static_cast<ptrdiff_t>(j));
      ReplaySource source(candidate);
      RunRecord run = session.run(source);
      ++runs;
      const bool same = run.violation && run.violation->property == property && !run.error;
      const bool smaller = run.preemptions < best.preemptions ||
                           (run.preemptions == best.preemptions && run.decisions.size() < best.decisions.size());
      if (same && smaller) {
        best = std::move(run);
        improved = true;
        break;
      }
    }
  }
  return best;
}

}  // namespace hph
