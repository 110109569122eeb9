#include "harness/ShardSelection.h"

#include <fmt/format.h>
#include <utime.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "harness/scenario/Limits.h"
#include "support/EchoText.h"
#include "support/NumberText.h"

namespace hph {
namespace {

// One engine's way of naming a shard.
struct Convention {
  const char* index;
  const char* total;  // nullptr: the total comes from --shard-count
  uint32_t firstIndex;
  const char* statusFile;  // nullptr: none
};

constexpr Convention kConventions[] = {
    {"GTEST_SHARD_INDEX", "GTEST_TOTAL_SHARDS", 0, "GTEST_SHARD_STATUS_FILE"},
    {"TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS", 0, "TEST_SHARD_STATUS_FILE"},
    {"CI_NODE_INDEX", "CI_NODE_TOTAL", 1, nullptr},
    {"JOB_COMPLETION_INDEX", nullptr, 0, nullptr},
};

Result<uint64_t> numberIn(const char* name, const std::string& text) {
  const auto value = parseUnsigned(text);
  if (!value || *value > limits::kMaxShardCount)
    return badInput(fmt::format("{}={}: not a shard number (0 to {})", name, echoText(text), limits::kMaxShardCount));
  return *value;
}

// The shard one convention names, nullopt when its variables are not set.
Result<std::optional<ShardSelection>> fromConvention(const Convention& c, const std::optional<uint32_t>& countFlag,
                                                     const EnvironmentReader& env) {
  // An empty variable is an unset one (a CI template that clears it).
  auto read = [&](const char* name) {
    std::optional<std::string> value = name ? env(name) : std::nullopt;
    return value && !value->empty() ? value : std::nullopt;
  };
  const std::optional<std::string> indexText = read(c.index);
  const std::optional<std::string> totalText = read(c.total);
  if (!indexText) {
    // GitLab sets CI_NODE_TOTAL=1 in every job that does not run in parallel.
    if (totalText && !(c.firstIndex == 1 && *totalText == "1"))
      return badInput(fmt::format("{} is set but {} is not: both name the shard", c.total, c.index));
    return std::optional<ShardSelection>{};
  }
  auto index = numberIn(c.index, *indexText);
  if (!index) return index.error();
  uint64_t total = 0;
  std::string source;
  if (c.total) {
    if (!totalText) return badInput(fmt::format("{} is set but {} is not: both name the shard", c.index, c.total));
    auto parsed = numberIn(c.total, *totalText);
    if (!parsed) return parsed.error();
    total = *parsed;
    source = fmt::format("{}/{}", c.index, c.total);
  } else {
    if (!countFlag)
      return badInput(fmt::format("{} is set (a Kubernetes Indexed Job): give the number of completions with "
                                  "--shard-count N",
                                  c.index));
    total = *countFlag;
    source = fmt::format("{} of --shard-count", c.index);
  }
  if (total == 0) return badInput(fmt::format("{}=0: there is no shard to run", c.total ? c.total : "--shard-count"));
  if (*index < c.firstIndex || *index - c.firstIndex >= total)
    return badInput(fmt::format("{}={} with {} shards: the index must be {} to {}", c.index, *indexText, total,
                                c.firstIndex, total - 1 + c.firstIndex));
  ShardSelection selection{{static_cast<uint32_t>(*index - c.firstIndex), static_cast<uint32_t>(total)}, source, {}};
  if (c.statusFile)
    if (const auto status = env(c.statusFile); status && !status->empty()) selection.statusFiles.push_back(*status);
  return std::optional<ShardSelection>{std::move(selection)};
}

}  // namespace

EnvironmentReader processEnvironment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
}

Result<Shard> parseShard(const std::string& text) {
  const auto refuse = [&] {
    return badInput(
        fmt::format("--shard '{}': expected I/N with 0 <= I < N <= {}", echoText(text), limits::kMaxShardCount));
  };
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return refuse();
  const auto index = parseUnsigned(text.substr(0, slash));
  const auto count = parseUnsigned(text.substr(slash + 1));
  if (!index || !count || *count == 0 || *count > limits::kMaxShardCount || *index >= *count) return refuse();
  return Shard{static_cast<uint32_t>(*index), static_cast<uint32_t>(*count)};
}

std::vector<std::string> shardVariableNames() {
  std::vector<std::string> names;
  for (const Convention& c : kConventions)
    for (const char* name : {c.index, c.total, c.statusFile})
      if (name) names.emplace_back(name);
  return names;
}

Result<ShardSelection> selectShard(const std::optional<std::string>& shardFlag,
                                   const std::optional<uint32_t>& shardCountFlag, const EnvironmentReader& env) {
  if (shardCountFlag && (*shardCountFlag == 0 || *shardCountFlag > limits::kMaxShardCount))
    return badInput(fmt::format("--shard-count {}: 1 to {}", *shardCountFlag, limits::kMaxShardCount));
  if (shardFlag) {
    if (shardCountFlag) return badInput("--shard-count: only with JOB_COMPLETION_INDEX, not with --shard");
    auto shard = parseShard(*shardFlag);
    if (!shard) return shard.error();
    return ShardSelection{*shard, "--shard", {}};
  }
  std::optional<ShardSelection> chosen;
  for (const Convention& c : kConventions) {
    auto found = fromConvention(c, shardCountFlag, env);
    if (!found) return found.error();
    if (!*found) continue;
    if (!chosen) {
      chosen = std::move(**found);
      continue;
    }
    // Two engines' variables at once (a GitLab job running Bazel, say): they must agree.
    const ShardSelection& other = **found;
    if (other.shard.index != chosen->shard.index || other.shard.count != chosen->shard.count)
      return badInput(fmt::format("{} says shard {}/{} but {} says {}/{}: which one?", chosen->source,
                                  chosen->shard.index, chosen->shard.count, other.source, other.shard.index,
                                  other.shard.count));
    for (const std::string& file : other.statusFiles) chosen->statusFiles.push_back(file);
  }
  if (shardCountFlag && (!chosen || chosen->source.find("--shard-count") == std::string::npos))
    return badInput("--shard-count: JOB_COMPLETION_INDEX is not set (the count is for Kubernetes Indexed Jobs)");
  return chosen ? std::move(*chosen) : ShardSelection{};
}

Result<void> acknowledgeShard(const ShardSelection& selection) {
  for (const std::string& file : selection.statusFiles) {
    std::ofstream touch(file, std::ios::app);
    if (!touch || utime(file.c_str(), nullptr) != 0)
      return badInput(fmt::format("{}: cannot touch the shard status file", echoText(file)));
  }
  return {};
}

Result<void> checkCompleteShards(const std::vector<ShardReportName>& reports, const std::string& field) {
  const uint32_t count = reports[0].shard.count;
  std::map<uint32_t, const ShardReportName*> seen;
  for (const ShardReportName& r : reports) {
    if (r.shard.count != count)
      return badInput(
          fmt::format("{}: {}: of {} shards, where {} is of {}", r.path, field, r.shard.count, reports[0].path, count));
    if (const auto [it, fresh] = seen.emplace(r.shard.index, &r); !fresh)
      return badInput(fmt::format("{} and {}: both are shard {}/{}", it->second->path, r.path, r.shard.index, count));
  }
  for (uint32_t i = 0; i < count; ++i)
    if (!seen.contains(i))
      return badInput(fmt::format("shard {}/{} is missing ({} report{} given)", i, count, reports.size(),
                                  reports.size() == 1 ? "" : "s"));
  return {};
}

}  // namespace hph
