// Where a patch to a hybrid (Arm64EC) image redirects a function ([protocol] site): its
// Arm64EC body, patched with the Arm64 protocols, or the x64 entry its export points at
// (the fast-forward sequence, or a hybrid-patchable function's x64 entry), patched with
// the x64 protocols. Which callers each reaches is what H1 checks (docs/properties.md).
#pragma once

#include <optional>
#include <string_view>

#include "emu/core/Arch.h"

namespace hph {

enum class HybridSite : uint8_t { kNative, kX64Entry };

inline std::string_view hybridSiteName(HybridSite site) { return site == HybridSite::kNative ? "native" : "x64-entry"; }

inline std::optional<HybridSite> parseHybridSite(std::string_view text) {
  if (text == "native") return HybridSite::kNative;
  if (text == "x64-entry") return HybridSite::kX64Entry;
  return std::nullopt;
}

// The instruction set of the code at the site: the protocols that may patch it.
inline ArchKind siteArch(HybridSite site) { return site == HybridSite::kNative ? ArchKind::kArm64 : ArchKind::kX64; }

}  // namespace hph
