// `hph check --junit F`: one test suite per scenario, one test case per scenario x
// property, so CI dashboards show which property of which scenario failed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace hph {

// From the scenario reports of `hph check` (the "scenarios" array of hph-check/3).
std::string junitXml(const nlohmann::json& scenarios, double seconds);

// `hph onhost --junit F`: one suite, one test case per scenario (the "scenarios" array of
// hph-onhost/1); a verdict other than the scenario expects is a failure.
std::string junitOnHostXml(const nlohmann::json& scenarios, double seconds);

}  // namespace hph
