// `hph check SCENARIO...`: explore each scenario's schedules and report whether its
// properties held, with a replayable, minimised counterexample when one did not.
#pragma once

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
  std::optional<std::string> shard;  // "I/N"
  std::optional<uint32_t> jobs;
  std::optional<double> maxTime;
  std::optional<std::string> jsonPath;
  std::optional<std::string> junitPath;
  std::optional<std::string> sarifPath;
  std::optional<std::string> traceDir;
};

int runCheck(const CheckOptions& options);

}  // namespace hph
