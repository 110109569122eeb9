// A store step carried out through a writable alias of the code pages, as both patchers
// do it: a live store as one __atomic_store_n per single-copy-atomic piece
// (StoreAtomicity: exactly the widths the emulator explored), one nothing fetches yet as
// a memcpy.
#pragma once

#include <cstdint>
#include <string>

#include "plan/Plan.h"

namespace hph {

// `alias` backs step.address .. + step.bytes.size() (same offset within the page, so the
// same alignment). false with `error` set when a piece has no atomic width.
bool storeThroughAlias(uint8_t* alias, const StoreStep& step, std::string& error);

}  // namespace hph
