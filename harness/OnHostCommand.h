// `hph onhost SCENARIO...`: apply the plan `hph check` verified to real threads of a
// native process (hph-host), and judge what they saw: no guest fault, the invariant
// holds, calls ran before and after the patch, and the patched bytes on the host are the
// bytes the emulator ends with.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hph {

enum class HostPatcher { kInProcess, kExternal };

struct OnHostOptions {
  std::vector<std::string> scenarios;
  std::string patcher = "in-process";
  uint32_t threads = 4;
  double duration = 0.2;  // seconds the threads call; the plan starts half-way
  bool unverified = false;
  // An `hph check --json` report that verified these very inputs (same scenario, base and
  // patch digests), instead of exploring again.
  std::optional<std::string> verifiedPath;
  // Apply the reverse plan afterwards (the scenario's `[protocol] reverse`): the patched
  // functions' bytes must be back to what they were before the patch.
  bool reverse = false;
  // What applying costs: apply the plan, then its unpatch, this many times (implies
  // --reverse); the latency of every application is reported (p50/p99).
  uint32_t applications = 1;
  // External patcher: for every instruction boundary inside a live store, a run with a
  // thread single-stepped onto it and held there while the plan lands.
  bool forceBoundaries = false;
  // External patcher: SIGKILL it right after this many steps (0: before the first).
  std::optional<uint32_t> killAfterStep;
  // External patcher: kill it after K steps for every K (0 .. all), this many runs each.
  std::optional<uint32_t> killEachStep;
  std::optional<std::string> junitPath;
  std::optional<std::string> sarifPath;
  std::optional<std::string> jsonPath;
  // Also write the job hph-host ran (to run the runner by hand: hph-host JOB).
  std::optional<std::string> jobPath;
};

int runOnHost(const OnHostOptions& options);

}  // namespace hph
