// Reading back the JSON report a stage command (or a shard) wrote: the gate and hph merge
// read what hph check, hph trampoline and hph onhost wrote, and a missing or broken file is
// a stage that failed, not an error of the reader.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

namespace hph {

// The JSON object in `path`; nullopt when the file is missing, unreadable or not an object.
std::optional<nlohmann::json> readJsonReport(const std::filesystem::path& path);

}  // namespace hph
