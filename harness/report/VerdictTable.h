// `hph check` and `hph merge` with several scenarios: a table at the end, one line each
// (what the release team reads).
#pragma once

#include <nlohmann/json.hpp>

namespace hph {

// From the "scenarios" array of hph-check/3; nothing for fewer than two.
void printVerdictTable(const nlohmann::json& scenarios);

}  // namespace hph
