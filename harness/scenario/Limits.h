// The documented ranges of every integer a user can give (scenario keys and command-line
// flags), in one place so the loader, the command line and docs/scenarios.md agree. A
// value outside its range is bad input (exit 2) naming the field and the range: never
// truncated, wrapped or clamped silently (a wrapped bound turned a race canary green).
#pragma once

#include <cstdint>
#include <limits>

namespace hph::limits {

// TOML integers are signed 64-bit: the largest a scenario can write.
inline constexpr uint64_t kTomlMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
inline constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

inline constexpr uint64_t kMinThreads = 1, kMaxThreads = 256;
inline constexpr uint64_t kMinStackBytes = 4096, kMaxStackBytes = 64ull << 20;
// All stacks of one scenario together: every job maps them and keeps a snapshot of them,
// so 256 x 64 MiB (both allowed alone) would need ~4 GB per job before anything runs.
inline constexpr uint64_t kMaxTotalStackBytes = 256ull << 20;
inline constexpr uint64_t kMinBudget = 1, kMaxBudget = kTomlMax;
inline constexpr uint64_t kMinSchedules = 1, kMaxSchedules = kTomlMax;
inline constexpr uint64_t kMaxPreemptionBound = 1000;
inline constexpr uint64_t kMinDepth = 1, kMaxDepth = 1000;
inline constexpr uint64_t kMaxSeed = kU64Max;  // a scenario can write up to kTomlMax
inline constexpr uint64_t kMaxJobs = 1024;     // then clamped to the CPUs and memory limit
inline constexpr uint64_t kMaxWindow = 4096;
inline constexpr double kMaxTimeSeconds = 365.0 * 24 * 3600;
inline constexpr uint64_t kMaxHostWriteBytes = 4096;
inline constexpr uint64_t kMaxShardCount = 100000;
inline constexpr uint64_t kMinStates = 1, kMaxStates = 1'000'000;
inline constexpr uint64_t kMinCallBudget = 1, kMaxCallBudget = kU64Max;

// Inputs read whole: scenario files, replay files and traces. Images have their own
// bound (pe::kMaxImageSize).
inline constexpr uint64_t kMaxScenarioBytes = 1ull << 20;
inline constexpr uint64_t kMaxReplayFileBytes = 64ull << 20;
// A key or value echoed in a message is cut to this many characters.
inline constexpr size_t kMaxEchoedChars = 80;

// Address space each exploration job reserves: Unicorn's translation buffer (1 GiB on
// Debian 12's 2.0.1, measured ~1 GB of VSZ per engine) plus its guest memory.
inline constexpr uint64_t kJobAddressSpaceBytes = 1100ull << 20;

}  // namespace hph::limits
