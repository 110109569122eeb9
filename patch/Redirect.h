// How many entry bytes a redirect overwrites, by protocol (the patch engine's protocols;
// `hph trampoline --protocol`). The displaced instructions are those covering them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "patch/Trampoline.h"

namespace hph {

// nullopt: the protocol is not one of this architecture's. Each relocator knows its own
// (Relocator::protocolRedirect).
std::optional<RedirectChoice> redirectFor(const Relocator& relocator, std::string_view protocol,
                                          uint64_t entry, uint64_t target);
// For messages: "naive-jmp5, padding-short-jmp, ..."
std::string_view protocolNames(const Relocator& relocator);

}  // namespace hph
