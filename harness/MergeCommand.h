// `hph merge REPORT.json...`: the reports of the shards of one `hph check` (each run with
// --shard I/N or a CI engine's shard variables) combined into one verdict per scenario
// and every report format, as if one machine had explored everything. Given the gate.json
// of each shard of one `hph gate` run, the merged release gate instead (MergeGate.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace hph {

struct MergeOptions {
  std::vector<std::string> reports;  // hph check --json files, one per shard
  std::optional<std::string> jsonPath;
  std::optional<std::string> junitPath;
  std::optional<std::string> sarifPath;
  std::optional<std::string> htmlPath;
  std::optional<std::string> outDir;  // gate.json shards: where the merged gate writes
};

int runMerge(const MergeOptions& options);

}  // namespace hph
