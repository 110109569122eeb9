// `hph plan SCENARIO [--json]`: the steps a scenario's patch applies, site by site.
#pragma once

#include <string>

namespace hph {

struct PlanOptions {
  std::string scenario;
  bool json = false;
};

int runPlan(const PlanOptions& options);

}  // namespace hph
