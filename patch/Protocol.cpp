#include "patch/Protocol.h"

#include <fmt/format.h>

#include <algorithm>

#include "patch/LiveCode.h"

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
    // Unpatching goes back through the series: the last patch is undone first.
    std::vector<const PatchSite*> order;
    for (const PatchSite& site : sites) order.push_back(&site);
    if (reverse) std::reverse(order.begin(), order.end());
    for (const PatchSite* sitePtr : order) {
      const PatchSite& site = *sitePtr;
      auto steps = arch.kind() == ArchKind::kX64 ? x64Steps(protocol, site, reverse)
                                                 : arm64Steps(protocol, site, reverse);
      if (!steps) return steps.error();
      plan.steps.insert(plan.steps.end(), steps->begin(), steps->end());
    }
  }
  // Which stores are live follows from what the steps do to reachable code.
  std::vector<CodeRegion> regions;
  std::vector<uint64_t> entries;
  for (const PatchSite& site : sites) {
    std::vector<uint8_t> bytes = site.before;
    bytes.insert(bytes.end(), site.code.begin(), site.code.end());
    regions.push_back({site.entry - site.before.size(), std::move(bytes)});
    regions.push_back({site.scratch, std::vector<uint8_t>(kScratchPerSite, 0)});
    entries.push_back(site.entry);
  }
  analyzeLiveness(arch, std::move(regions), entries, plan);
  return plan;
}

}  // namespace hph
