// How many entry bytes a redirect overwrites, by protocol (the patch engine's protocols;
// `hph trampoline --protocol`). The displaced instructions are those covering them.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "patch/ProtocolRegistry.h"
#include "patch/Trampoline.h"

namespace hph {

struct RedirectChoice {
  std::vector<uint8_t> bytes;  // what is written at the entry
  uint32_t patchBytes = 0;     // entry bytes the trampoline must displace
};

// nullopt: the protocol is not one of this architecture's.
std::optional<RedirectChoice> redirectFor(const Relocator& relocator, ProtocolKind protocol, uint64_t entry,
                                          uint64_t target);

}  // namespace hph
