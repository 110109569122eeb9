// How much a run, or a search, exercised the patch: what a "holds" stands on. Kept per
// site, because a patch of several functions is checked only where it was exercised: a
// search whose threads never call one of them says nothing about that one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hph {

struct Exercise {
  uint64_t stepsWithThreadInWindow = 0;  // patch steps applied while a thread was in a watched window
  uint64_t patchedCalls = 0;             // calls that arrived at a replacement
  // Bit i of word i/64: site i was exercised (a step landed while a thread was in its
  // window, or a call arrived at its replacement).
  std::vector<uint64_t> siteBits;

  void markSite(size_t site) {
    if (siteBits.size() <= site / 64) siteBits.resize(site / 64 + 1);
    siteBits[site / 64] |= uint64_t{1} << (site % 64);
  }
  bool exercised(size_t site) const { return site / 64 < siteBits.size() && (siteBits[site / 64] >> (site % 64) & 1); }
  // The sites of 0..siteCount-1 never exercised.
  std::vector<size_t> unexercised(size_t siteCount) const {
    std::vector<size_t> out;
    for (size_t site = 0; site < siteCount; ++site)
      if (!exercised(site)) out.push_back(site);
    return out;
  }
  std::vector<size_t> exercisedSites() const {
    std::vector<size_t> out;
    for (size_t site = 0; site < siteBits.size() * 64; ++site)
      if (exercised(site)) out.push_back(site);
    return out;
  }
  Exercise& operator+=(const Exercise& other) {
    stepsWithThreadInWindow += other.stepsWithThreadInWindow;
    patchedCalls += other.patchedCalls;
    if (siteBits.size() < other.siteBits.size()) siteBits.resize(other.siteBits.size());
    for (size_t i = 0; i < other.siteBits.size(); ++i) siteBits[i] |= other.siteBits[i];
    return *this;
  }
  bool operator==(const Exercise&) const = default;
};

}  // namespace hph
