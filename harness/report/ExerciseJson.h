// Vacuity in hph check --json reports, and read back by hph merge: an object
// {"steps_with_thread_in_window": n, "patched_calls": n, "exercised_sites": [site index...]}.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "emu/core/Exercise.h"

namespace hph {

nlohmann::json exerciseJson(const Exercise& exercise);
// A scenario's "vacuity": exerciseJson's fields, the sites by name ("sites") and those never
// exercised ("unexercised_sites"), whether the scenario patches, and whether it is vacuous.
nlohmann::json vacuityJson(const std::vector<std::string>& siteNames, const Exercise& exercise, bool patched,
                           bool vacuous);
// nullopt when a field is not what exerciseJson writes (hph merge refuses the report).
std::optional<Exercise> exerciseFromJson(const nlohmann::json& j);

}  // namespace hph
