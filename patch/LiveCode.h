// Which bytes a thread can fetch while a plan runs: instructions reachable by control
// flow from the patched functions' entries, in memory as the plan has changed it so far.
// A store is live when a thread may be fetching what it overwrites at that moment: bytes
// reachable now, or at any earlier step (a thread may still be there) unless a release
// step has since waited every thread out of them. Padding nothing jumps into is not live;
// nothing is live between suspend-all and resume-all. A data store (a slot or literal)
// is live when a reachable instruction reads it.
#pragma once

#include <cstdint>
#include <vector>

#include "emu/core/Arch.h"
#include "patch/CodeImage.h"
#include "patch/Protocol.h"
#include "plan/Plan.h"

namespace hph {

// The bytes a plan over these sites touches, before it runs: each site's padding and
// function, and its hotpatch area (zeros).
std::vector<CodeRegion> siteRegions(const std::vector<PatchSite>& sites);
// Whether `address` lies in one of the regions siteRegions gives for this site.
bool inSiteRegions(const PatchSite& site, uint64_t address);

// Sets `live` on every StoreStep of the plan. Regions may overlap (they are merged, the
// first one's bytes winning); control leaving every region is not followed.
void analyzeLiveness(const Arch& arch, std::vector<CodeRegion> regions, const std::vector<uint64_t>& entries,
                     Plan& plan);

}  // namespace hph
