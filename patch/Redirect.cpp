#include "patch/Redirect.h"

namespace hph {

std::optional<RedirectChoice> redirectFor(const Relocator& relocator, std::string_view protocol,
                                          uint64_t entry, uint64_t target) {
  RedirectChoice choice;
  const bool x64 = relocator.arch().kind() == ArchKind::kX64;
  if (protocol.empty()) protocol = x64 ? "naive-jmp5" : "b-direct";
  if (x64) {
    if (protocol == "padding-short-jmp") {
      // `eb f9` over a first instruction of >= 2 bytes; the rel32 jump sits in the padding.
      choice.bytes = {0xEB, 0xF9};
      choice.patchBytes = 2;
      return choice;
    }
    if (protocol != "naive-jmp5" && protocol != "int3-3step" && protocol != "stop-the-world") return std::nullopt;
  } else if (protocol != "b-direct" && protocol != "veneer" && protocol != "literal-swap" &&
             protocol != "stop-the-world") {
    return std::nullopt;
  }
  choice.bytes = relocator.redirect(entry, target);
  choice.patchBytes = static_cast<uint32_t>(choice.bytes.size());
  return choice;
}

std::string_view protocolNames(ArchKind arch) {
  return arch == ArchKind::kX64 ? "naive-jmp5, padding-short-jmp, int3-3step, stop-the-world"
                                : "b-direct, veneer, literal-swap, stop-the-world";
}

}  // namespace hph
