#include "harness/report/Provenance.h"

#include <LIEF/version.h>
#include <fmt/format.h>
#include <unicorn/unicorn.h>

namespace hph {

std::string hphVersion() { return HPH_VERSION_STRING; }

std::string unicornVersion() {
  unsigned major = 0, minor = 0;
  const unsigned packed = uc_version(&major, &minor);
  return fmt::format("{}.{}.{}", major, minor, (packed >> 8) & 0xFF);
}

std::string liefVersion() {
  std::string version = LIEF_VERSION;
  while (!version.empty() && (version.back() == '-' || version.back() == ' ')) version.pop_back();
  return version;
}

}  // namespace hph
