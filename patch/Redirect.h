// How many entry bytes a redirect overwrites, by protocol (the patch engine's protocols;
// `hph trampoline --protocol`). The displaced instructions are those covering them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "patch/Trampoline.h"

namespace hph {

struct RedirectChoice {
  std::vector<uint8_t> bytes;  // what is written at the entry
  uint32_t patchBytes = 0;     // entry bytes the trampoline must displace
};

// nullopt: the protocol is not one of this architecture's.
std::optional<RedirectChoice> redirectFor(const Relocator& relocator, std::string_view protocol,
                                          uint64_t entry, uint64_t target);
std::string_view protocolNames(ArchKind arch);  // for messages: "naive-jmp5, padding-short-jmp, ..."

}  // namespace hph
