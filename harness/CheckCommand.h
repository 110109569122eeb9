// `hph check SCENARIO...`: explore each scenario's schedules and report whether its
// properties held, with a replayable, minimised counterexample when one did not.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hph {

struct CheckOptions {
  std::vector<std::string> scenarios;
  std::optional<std::string> strategy;
  std::optional<uint64_t> schedules;
  std::optional<uint32_t> preemptionBound;
  std::optional<uint64_t> seed;
  std::optional<uint32_t> depth;
  std::optional<std::string> shard;    // "I/N"
  std::optional<uint32_t> shardCount;  // N, for JOB_COMPLETION_INDEX (ShardSelection.h)
  std::optional<uint32_t> jobs;
  std::optional<double> maxTime;
  // Not on a terminal: print the progress line every this many seconds.
  std::optional<double> progressEvery;
  std::optional<std::string> jsonPath;
  std::optional<std::string> junitPath;
  std::optional<std::string> sarifPath;
  std::optional<std::string> htmlPath;
  std::optional<std::string> traceDir;
  // An inconclusive verdict (search cut short) of a scenario expecting "holds" passes.
  bool acceptPartial = false;
  // Set by a signal: stop exploring, report what was covered (nullptr: not watched).
  const std::atomic<bool>* interrupted = nullptr;
};

int runCheck(const CheckOptions& options);

}  // namespace hph
