#include "patch/TrampolinePlacement.h"

#include <fmt/format.h>

#include <algorithm>

namespace hph {
namespace {

// nullopt when rounding up would pass 2^64.
std::optional<uint64_t> alignUp(uint64_t value, uint64_t alignment) {
  const uint64_t rounded = (value + alignment - 1) & ~(alignment - 1);
  if (rounded < value) return std::nullopt;
  return rounded;
}

}  // namespace

std::optional<uint64_t> firstFreePlace(uint64_t preferred, uint64_t size, uint64_t alignment,
                                       std::span<const AddressRange> avoid, uint64_t limit) {
  std::optional<uint64_t> at = alignUp(preferred, alignment);
  // Each round either succeeds or moves past the end of a range in the way, so it ends.
  while (at && *at <= limit && size <= limit - *at) {
    uint64_t past = *at;
    for (const AddressRange& r : avoid)
      if (r.overlaps(*at, *at + size)) past = std::max(past, r.end);
    if (past == *at) return at;
    at = alignUp(past, alignment);
  }
  return std::nullopt;
}

std::vector<AddressRange> addressesToAvoid(const Relocator& relocator, const TrampolineRequest& request) {
  std::vector<AddressRange> avoid = relocator.references(request);
  avoid.push_back({request.functionAddress, request.functionAddress + request.function.size()});
  return avoid;
}

std::string placementConflict(const Relocator& relocator, const TrampolineRequest& request, uint64_t address,
                              uint64_t size) {
  for (const AddressRange& r : addressesToAvoid(relocator, request))
    if (r.overlaps(address, address + size))
      return fmt::format(
          "the trampoline at 0x{:x}..0x{:x} would overlap 0x{:x}..0x{:x}, which the function {}", address,
          address + size, r.begin, r.end,
          r.begin == request.functionAddress && r.end == r.begin + request.function.size() ? "occupies" : "references");
  return "";
}

}  // namespace hph
