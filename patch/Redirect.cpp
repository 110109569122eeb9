#include "patch/Redirect.h"

namespace hph {

std::optional<RedirectChoice> redirectFor(const Relocator& relocator, std::string_view protocol,
                                          uint64_t entry, uint64_t target) {
  return relocator.protocolRedirect(protocol, entry, target);
}

std::string_view protocolNames(const Relocator& relocator) { return relocator.protocolNames(); }

}  // namespace hph
