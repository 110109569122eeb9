// `hph check --html F` and `hph merge --html F`: one self-contained page a release team
// reads in a browser (no scripts, fonts or anything fetched): ship or not, the scenarios'
// verdicts with their provenance and bounds, a table of properties by scenario, and each
// counterexample's schedule drawn as an inline SVG timeline (a lane per thread and one for
// the patcher, the violation marked) with the command that replays it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace hph {

// From the "scenarios" array of hph-check/3 and the run's exit code.
// The pages' one style sheet (the gate's page uses it too).
const char* htmlReportStyle();

std::string htmlReport(const nlohmann::json& scenarios, int exitCode, const std::string& title);

}  // namespace hph
