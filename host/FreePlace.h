// Where the images a runner could not map at their preferred base would fit instead.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "host/HostJob.h"

namespace hph {

// A free place for the movable span when its own is taken (HostMapRefusal::movableSpanFits),
// on the loader's 64 KiB grid and below its limit (the emulator's own areas lie above):
// the first free one of the next 256 span-sized steps above it; else the first free of
// fixed anchors (2^44, 2^45, 2^46) other than its own place, which the kernel does not
// hand out by itself and which are free or taken alike in every runner (under ASan 2^44
// lies in its shadow: 2^45); else wherever the kernel would put it. `free` says whether a range is free (in this
// process: reserved and released again).
std::optional<uint64_t> freePlaceFor(const HostMovableSpan& span, const std::function<bool(uint64_t, uint64_t)>& free);

}  // namespace hph
