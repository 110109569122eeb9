// Which part of the exploration this process runs: `--shard I/N`, or, when that is absent,
// the shard numbers of the engine that spread the job over machines. The conventions are
// the engines' own: GoogleTest (GTEST_SHARD_INDEX / GTEST_TOTAL_SHARDS), Bazel
// (TEST_SHARD_INDEX / TEST_TOTAL_SHARDS, touching TEST_SHARD_STATUS_FILE to say it shards),
// GitLab (CI_NODE_INDEX / CI_NODE_TOTAL, 1-based) and Kubernetes Indexed Jobs
// (JOB_COMPLETION_INDEX, with the total given by --shard-count, which a pod does not see).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "support/Result.h"

namespace hph {

struct Shard {
  uint32_t index = 0;
  uint32_t count = 1;
};

struct ShardSelection {
  Shard shard;
  std::string source;                    // "--shard", or the variables it came from; empty: unsharded
  std::vector<std::string> statusFiles;  // to touch once the run starts (Bazel, GoogleTest)
};

// Reads one environment variable (nullopt when unset): the tests pass their own.
using EnvironmentReader = std::function<std::optional<std::string>(const char*)>;
EnvironmentReader processEnvironment();

// `I/N` with 0 <= I < N.
Result<Shard> parseShard(const std::string& text);

// The shard to run: the flag wins; otherwise every convention whose variables are set,
// which must agree. Bad input names the variable (or flag) and what is wrong with it.
Result<ShardSelection> selectShard(const std::optional<std::string>& shardFlag,
                                   const std::optional<uint32_t>& shardCountFlag, const EnvironmentReader& env);

// Every variable the conventions read (so a caller can run a command outside its shard).
std::vector<std::string> shardVariableNames();

// One shard's report, as hph merge reads it.
struct ShardReportName {
  std::string path;
  Shard shard;
};

// The reports are of shards 0..N-1 of one N, each once; `field` names where a report says
// its shard (in the one line that names the report at fault).
Result<void> checkCompleteShards(const std::vector<ShardReportName>& reports, const std::string& field);

// Tells the engine the shard was honoured: each status file is created (or its time
// updated), as Bazel and GoogleTest ask of a test runner that shards.
Result<void> acknowledgeShard(const ShardSelection& selection);

}  // namespace hph
