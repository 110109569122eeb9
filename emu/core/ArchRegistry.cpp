// Lookup of the backends by PE machine and by name.
#include "emu/core/Arch.h"

namespace hph {

const Arch* archForPeMachine(uint16_t machine) {
  if (machine == x64Arch().peMachine()) return &x64Arch();
  if (machine == arm64Arch().peMachine()) return &arm64Arch();
  return nullptr;
}

const Arch* archByName(std::string_view name) {
  if (name == x64Arch().name()) return &x64Arch();
  if (name == arm64Arch().name()) return &arm64Arch();
  return nullptr;
}

const Arch& archOf(ArchKind kind) { return kind == ArchKind::kX64 ? x64Arch() : arm64Arch(); }

}  // namespace hph
