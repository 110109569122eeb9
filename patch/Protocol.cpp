#include "patch/Protocol.h"

#include <fmt/format.h>

#include <algorithm>

namespace hph {

std::vector<std::string_view> protocolsFor(ArchKind arch) {
  if (arch == ArchKind::kX64) return {"naive-jmp5", "padding-short-jmp", "int3-3step", "stop-the-world"};
  return {"b-direct", "veneer", "literal-swap", "stop-the-world"};
}

Result<Plan> buildPlan(std::string_view protocol, const Arch& arch, const std::vector<PatchSite>& sites,
                       const ProtocolOptions& options) {
  const auto known = protocolsFor(arch.kind());
  if (std::find(known.begin(), known.end(), protocol) == known.end()) {
    std::string list;
    for (auto p : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", p);
    return badInput(fmt::format("protocol '{}' is not one of {} ({})", protocol, arch.name(), list));
  }
  Plan plan;
  for (bool reverse : {false, true}) {
    if (reverse && !options.reverse) break;
    for (const PatchSite& site : sites) {
      auto steps = arch.kind() == ArchKind::kX64 ? x64Steps(protocol, site, reverse)
                                                 : arm64Steps(protocol, site, reverse);
      if (!steps) return steps.error();
      plan.steps.insert(plan.steps.end(), steps->begin(), steps->end());
    }
  }
  return plan;
}

}  // namespace hph
