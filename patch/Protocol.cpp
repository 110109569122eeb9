#include "patch/Protocol.h"

#include <fmt/format.h>

#include <algorithm>

#include "patch/LiveCode.h"

namespace hph {

std::vector<std::string_view> protocolsFor(ArchKind arch) {
  if (arch == ArchKind::kX64) return {"naive-jmp5", "padding-short-jmp", "int3-3step", "stop-the-world"};
  return {"b-direct", "veneer", "literal-swap", "stop-the-world"};
}

std::vector<std::string_view> defectsFor(std::string_view protocol) {
  if (protocol == "padding-short-jmp") return {"no-release", "stub-clobbers-rcx", "no-short-jmp"};
  if (protocol == "int3-3step") return {"no-sync", "resume-inside"};
  if (protocol == "stop-the-world") return {"no-move-pc", "wrong-rip-fixup", "no-release"};
  if (protocol == "veneer") return {"branch-before-veneer", "no-veneer-maintenance", "veneer-clobbers-x0"};
  if (protocol == "b-direct") return {"no-sync"};
  if (protocol == "literal-swap") return {"literal-in-halves"};
  return {};
}

Result<Plan> buildPlan(std::string_view protocol, const Arch& arch, const std::vector<PatchSite>& sites,
                       const ProtocolOptions& options) {
  const auto known = protocolsFor(arch.kind());
  if (std::find(known.begin(), known.end(), protocol) == known.end()) {
    std::string list;
    for (auto p : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", p);
    return badInput(fmt::format("protocol '{}' is not one of {} ({})", protocol, arch.name(), list));
  }
  if (!options.defect.empty()) {
    const auto defects = defectsFor(protocol);
    if (std::find(defects.begin(), defects.end(), options.defect) == defects.end()) {
      std::string list;
      for (auto d : defects) list += fmt::format("{}{}", list.empty() ? "" : ", ", d);
      return badInput(fmt::format("defect '{}' is not one of {}'s ({})", options.defect, protocol,
                                  list.empty() ? "none" : list));
    }
  }
  Plan plan;
  for (bool reverse : {false, true}) {
    if (reverse && !options.reverse) break;
    // Unpatching goes back through the series: the last patch is undone first.
    std::vector<const PatchSite*> order;
    for (const PatchSite& site : sites) order.push_back(&site);
    if (reverse) std::reverse(order.begin(), order.end());
    for (const PatchSite* sitePtr : order) {
      const PatchSite& site = *sitePtr;
      auto steps = arch.kind() == ArchKind::kX64 ? x64Steps(protocol, site, reverse, options)
                                                 : arm64Steps(protocol, site, reverse, options);
      if (!steps) return steps.error();
      plan.steps.insert(plan.steps.end(), steps->begin(), steps->end());
    }
  }
  // Which stores are live follows from what the steps do to reachable code.
  std::vector<uint64_t> entries;
  for (const PatchSite& site : sites) entries.push_back(site.entry);
  analyzeLiveness(arch, siteRegions(sites), entries, plan);
  return plan;
}

}  // namespace hph
