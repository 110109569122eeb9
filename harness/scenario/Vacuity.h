// Whether a search's "holds" is backed by what it explored: every site of the patch was
// exercised (a patch step landed while a thread was in its window, or a call arrived at its
// replacement). hph check, hph merge and hph onhost judge it alike.
#pragma once

#include <string>
#include <vector>

#include "emu/core/Exercise.h"
#include "patch/Protocol.h"

namespace hph {

// What a report calls each site: its function's name, and for a function a series patches
// again, which of its patches ("bump (patch 2)").
std::vector<std::string> siteNames(const std::vector<PatchSite>& sites);

// The names of the sites `exercise` never reached, each once, in site order (`siteNames`:
// one per site; a series names a function once per patch that replaces it).
std::vector<std::string> unexercisedSites(const std::vector<std::string>& siteNames, const Exercise& exercise);

// "the patch was never exercised" when no site was, else "'a', 'b' never exercised".
std::string describeUnexercised(const std::vector<std::string>& siteNames, const Exercise& exercise);

}  // namespace hph
