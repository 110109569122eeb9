#include "harness/report/ExerciseJson.h"

#include "harness/scenario/Vacuity.h"

namespace hph {

using nlohmann::json;

json exerciseJson(const Exercise& exercise) {
  return {{"steps_with_thread_in_window", exercise.stepsWithThreadInWindow},
          {"patched_calls", exercise.patchedCalls},
          {"exercised_sites", exercise.exercisedSites()}};
}

json vacuityJson(const std::vector<std::string>& siteNames, const Exercise& exercise, bool patched, bool vacuous) {
  json j = exerciseJson(exercise);
  j["sites"] = siteNames;
  j["unexercised_sites"] = patched ? unexercisedSites(siteNames, exercise) : std::vector<std::string>{};
  j["patched"] = patched;
  j["vacuous"] = vacuous;
  return j;
}

std::optional<Exercise> exerciseFromJson(const json& j) {
  if (!j.is_object()) return std::nullopt;
  Exercise exercise;
  for (const auto& [key, field] : {std::pair{"steps_with_thread_in_window", &exercise.stepsWithThreadInWindow},
                                   std::pair{"patched_calls", &exercise.patchedCalls}}) {
    if (!j.contains(key) || !j[key].is_number_unsigned()) return std::nullopt;
    *field = j[key].get<uint64_t>();
  }
  if (!j.contains("exercised_sites") || !j["exercised_sites"].is_array()) return std::nullopt;
  for (const json& site : j["exercised_sites"]) {
    // Sites are a patch's functions: a few, never millions (a bound keeps a forged
    // report from allocating without end).
    if (!site.is_number_unsigned() || site.get<uint64_t>() >= (uint64_t{1} << 20)) return std::nullopt;
    exercise.markSite(site.get<size_t>());
  }
  return exercise;
}

}  // namespace hph
