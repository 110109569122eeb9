// Where a trampoline, or the checker's own memory, may go: nowhere the displaced
// instructions reference (a call's target, a RIP-relative operand, an Arm64 literal) and
// not over the function itself. Code or data put there would change what the original
// does: a call would land in the trampoline, a load would read its bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "patch/Trampoline.h"

namespace hph {

// The lowest `alignment`-aligned address at or above `preferred` where `size` bytes overlap
// none of `avoid` and end at or below `limit`; nullopt if there is none.
std::optional<uint64_t> firstFreePlace(uint64_t preferred, uint64_t size, uint64_t alignment,
                                       std::span<const AddressRange> avoid, uint64_t limit);

// What a trampoline must keep clear of: the references of the displaced instructions and
// the function's bytes.
std::vector<AddressRange> addressesToAvoid(const Relocator& relocator, const TrampolineRequest& request);

// Why `size` bytes at `address` cannot hold this request's trampoline ("" when they can).
std::string placementConflict(const Relocator& relocator, const TrampolineRequest& request, uint64_t address,
                              uint64_t size);

}  // namespace hph
