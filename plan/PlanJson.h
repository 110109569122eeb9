// The machine-readable form of a Plan, both ways: `hph plan --json` prints it, and the
// on-host runner reads the very same form, so the steps the host applies are the steps
// the emulator explored (the runner links nothing else of hph: it is cross-built).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "plan/Plan.h"

namespace hph {

nlohmann::json stepToJson(const Step& step);
// nullopt, with `error` naming the field, when the JSON is not a step.
std::optional<Step> stepFromJson(const nlohmann::json& j, std::string& error);

nlohmann::json planToJson(const Plan& plan);
std::optional<Plan> planFromJson(const nlohmann::json& steps, std::string& error);

}  // namespace hph
