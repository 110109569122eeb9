// `hph check --sarif F`: SARIF 2.1.0, one result per violation found, the property as
// rule id, the image and RVA as location (validated with Microsoft's SARIF multitool).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace hph {

// An absolute path becomes a file:// URI; a relative one stays a relative reference (to
// the directory hph ran in). Characters URIs reserve are percent-encoded.
std::string uriOf(const std::string& path);

// From the scenario reports of `hph check` (the "scenarios" array of hph-check/3).
nlohmann::json sarifLog(const nlohmann::json& scenarios);

// `hph onhost --sarif F`: a result per scenario whose host verdict is not holds, the
// verdict as rule id (a canary caught as expected is a note), the scenario as location.
nlohmann::json sarifOnHostLog(const nlohmann::json& scenarios);

}  // namespace hph
