// How many entry bytes a redirect overwrites, by protocol (the patch engine's protocols;
// `hph trampoline --protocol`). The displaced instructions are those covering them.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "patch/ProtocolRegistry.h"
#include "patch/Trampoline.h"

namespace hph {

// nullopt: the protocol is not one of this architecture's.
std::optional<RedirectChoice> redirectFor(const Relocator& relocator, ProtocolKind protocol, uint64_t entry,
                                          uint64_t target);

}  // namespace hph
