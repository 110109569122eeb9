#include "harness/scenario/Vacuity.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace hph {

std::vector<std::string> siteNames(const std::vector<PatchSite>& sites) {
  // A function a series patches again is named with the patch's place among its patches:
  // "bump (patch 2)" left unexercised is not "bump".
  std::vector<std::string> names;
  for (const PatchSite& site : sites) {
    const auto earlier = std::count_if(sites.data(), &site, [&](const PatchSite& s) { return s.name == site.name; });
    names.push_back(earlier == 0 ? site.name : fmt::format("{} (patch {})", site.name, earlier + 1));
  }
  return names;
}

std::vector<std::string> unexercisedSites(const std::vector<std::string>& siteNames, const Exercise& exercise) {
  std::vector<std::string> names;
  for (size_t site : exercise.unexercised(siteNames.size()))
    if (std::find(names.begin(), names.end(), siteNames[site]) == names.end()) names.push_back(siteNames[site]);
  return names;
}

std::string describeUnexercised(const std::vector<std::string>& siteNames, const Exercise& exercise) {
  if (exercise.exercisedSites().empty()) return "the patch was never exercised";
  std::vector<std::string> quoted;
  for (const std::string& name : unexercisedSites(siteNames, exercise)) quoted.push_back("'" + name + "'");
  return fmt::format("{} never exercised (no patch step landed with a thread in its window, no call reached its "
                     "replacement)",
                     fmt::join(quoted, ", "));
}

}  // namespace hph
