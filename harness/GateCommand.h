// `hph gate MANIFEST`: the release gate. Runs every stage a release manifest asks for
// (exploration of every scenario, each patched function's trampoline where its protocol
// needs one, the on-host application of every plan that held) and says ship or do not
// ship: one verdict per patched function and stage, one exit code (0 ship, 1 a property
// or a stage failed, 2 bad input), every report in one directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace hph {

struct GateOptions {
  std::string manifest;
  std::string outDir = "hph-gate";
  std::optional<uint32_t> jobs;
  // Not on a terminal: stages print their progress line this often.
  std::optional<double> progressEvery;
  // This run's shard (`I/N`), else the CI engine's shard variables (ShardSelection.h):
  // each shard writes a partial gate.json, and hph merge combines them into the verdict.
  std::optional<std::string> shard;
  std::optional<uint32_t> shardCount;
};

int runGate(const GateOptions& options);

}  // namespace hph
