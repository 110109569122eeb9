#include "patch/Redirect.h"

namespace hph {

std::optional<RedirectChoice> redirectFor(const Relocator& relocator, ProtocolKind protocol, uint64_t entry,
                                          uint64_t target) {
  if (!protocolRunsOn(protocol, relocator.arch().kind())) return std::nullopt;
  RedirectChoice choice;
  if (protocolInfo(protocol).redirect == EntryRedirect::kShortJumpBackward) {
    // `eb f9` over a first instruction of >= 2 bytes; the rel32 jump sits in the padding.
    choice.bytes = {0xEB, 0xF9};
    choice.patchBytes = 2;
    return choice;
  }
  choice.bytes = relocator.redirect(entry, target);
  choice.patchBytes = static_cast<uint32_t>(choice.bytes.size());
  return choice;
}

}  // namespace hph
