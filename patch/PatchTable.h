// What a patch image's own hotpatch table asks for, checked against the base image it is
// applied to: the table must name this base (timestamp and checksum) at the sequence
// number the series has reached, and every entry must point at a function or a cell.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "emu/pe/PeImage.h"
#include "support/Result.h"

namespace hph {

struct PatchTableRequest {
  std::vector<std::pair<uint32_t, uint32_t>> functions;  // base function RVA -> patch function RVA
  std::vector<std::pair<uint32_t, uint32_t>> cells;      // patch cell RVA -> the base RVA it must hold
  uint32_t sequenceNumber = 0;                           // the sequence number the patch brings the base to
};

// `origin` starts every message ("scenario.toml: patch[0]"); a mismatch is bad input
// naming the table field ("HotPatchBase[0].OriginalCheckSum").
Result<PatchTableRequest> readPatchTable(const PeImage& base, const PeImage& patch, uint32_t appliedSequence,
                                         const std::string& origin);

}  // namespace hph
