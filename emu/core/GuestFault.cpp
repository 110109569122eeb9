#include "emu/core/GuestFault.h"

#include <fmt/format.h>

namespace hph {

std::string GuestFault::describe() const {
  std::string text(faultKindName(kind));
  if (kind == FaultKind::kUnmappedRead || kind == FaultKind::kUnmappedWrite || kind == FaultKind::kProtectionViolation)
    text += fmt::format(" of 0x{:x}", address);
  text += fmt::format(" at pc 0x{:x}", pc);
  std::string where = location;
  if (!instruction.empty()) where += (where.empty() ? "" : ": ") + instruction;
  if (!where.empty()) text += " (" + where + ")";
  if (!detail.empty()) text += ": " + detail;
  return text;
}

}  // namespace hph
