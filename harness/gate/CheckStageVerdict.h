// The gate's verdict on one scenario's exploration, read from hph check's report of it: the
// gate decides it where it ran the exploration and again where hph merge combined the
// shards' explorations, by this one rule.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace hph {

struct StageVerdict {
  std::string verdict;  // pass | fail
  std::string detail;   // why it failed
};

// `scenarioReport`: the scenario's entry in hph check's --json report (null: the report has
// none); `broken`: why the report cannot be trusted (the command crashed, a report is
// missing), empty when it can; `part`: the shard the exploration must have covered ("0/1"
// for all of it). Only a `holds` verdict over that part passes.
StageVerdict checkStageVerdict(const nlohmann::json* scenarioReport, const std::string& broken,
                               const std::string& part);

}  // namespace hph
