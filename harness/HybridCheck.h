// `hph check` (and `hph replay`) on a hybrid scenario (arch = "arm64ec"): the plan's
// stores judged against the images' CHPE metadata (H2, H3), then the serial hybrid run
// (properties/HybridRun: H1, H4). Deterministic: no schedule, no seed; the replay token
// names the scenario and its inputs' digests, and replaying it runs the same checks.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/scenario/PreparedScenario.h"
#include "properties/HybridRun.h"

namespace hph {

struct HybridCheckResult {
  std::vector<HybridFinding> findings;  // H3, H2 (static), then H4, H1, in that order
  HybridRunResult run;
  double seconds = 0;
};

Result<HybridCheckResult> checkHybrid(const ScenarioInputs& inputs);

// The per-path table printed under the verdict: site, path, what it reached.
std::string describeHybridPaths(const HybridCheckResult& result, const ScenarioInputs& inputs);
nlohmann::json hybridRunJson(const HybridCheckResult& result, const ScenarioInputs& inputs);

}  // namespace hph
