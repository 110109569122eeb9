// `hph merge SHARD/gate.json... --out DIR`: the shards of one `hph gate` run (each run with
// --shard I/N or a CI engine's shard variables) combined into the release's verdict. The
// shards' explorations merge as hph check's shards do (every scenario's verdict, schedule
// count and first counterexample as one machine would have found them); each trampoline
// and on-host job ran in one shard and is taken from it. Refused (exit 2): a shard missing
// or given twice, shards of different releases (manifest, images, stages, digests), a
// gate.json that is not a shard's.
#pragma once

#include <string>
#include <vector>

namespace hph {

// Whether `path` holds a gate's report (schema hph-gate/1) rather than hph check's.
bool isGateReport(const std::string& path);

int runMergeGate(const std::vector<std::string>& gateReports, const std::string& outDir);

}  // namespace hph
