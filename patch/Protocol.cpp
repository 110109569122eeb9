#include "patch/Protocol.h"

#include <fmt/format.h>

#include <algorithm>

#include "patch/LiveCode.h"

namespace hph {

Result<Plan> buildPlan(ProtocolKind protocol, const Arch& arch, const std::vector<PatchSite>& sites,
                       const ProtocolOptions& options) {
  // A scenario's names were checked when it was read; these guard other callers.
  if (!protocolRunsOn(protocol, arch.kind())) return badInput(notAProtocolOf(protocolName(protocol), arch.kind()));
  if (options.defect != ProtocolDefect::kNone && !protocolHasDefect(protocol, options.defect))
    return badInput(notADefectOf(defectName(options.defect), protocol));
  Plan plan;
  for (bool reverse : {false, true}) {
    if (reverse && !options.reverse) break;
    // Unpatching goes back through the series: the last patch is undone first.
    std::vector<const PatchSite*> order;
    for (const PatchSite& site : sites) order.push_back(&site);
    if (reverse) std::reverse(order.begin(), order.end());
    for (const PatchSite* sitePtr : order) {
      const PatchSite& site = *sitePtr;
      // Code that does not decode is bad input, whatever a protocol would refuse of it (a
      // length or a missing NOP found first made it an expected refusal).
      if (!site.code.empty())
        if (const DecodedInstruction first = arch.decode(site.code, site.entry); !first.valid)
          return badInput(fmt::format("function '{}': first instruction '{}' does not decode", site.name, first.text));
      // The one place a plan reaches an architecture's step builders (patch/x64, patch/arm64),
      // as ArchRegistry is for the backends: a new architecture adds its builder here.
      auto steps = arch.kind() == ArchKind::kX64 ? x64Steps(protocol, site, reverse, options)
                                                 : arm64Steps(protocol, site, reverse, options);
      if (!steps) return steps.error();
      plan.steps.insert(plan.steps.end(), steps->begin(), steps->end());
      plan.stepSites.insert(plan.stepSites.end(), steps->size(), static_cast<uint32_t>(sitePtr - sites.data()));
    }
  }
  // Which stores are live follows from what the steps do to reachable code.
  std::vector<uint64_t> entries;
  for (const PatchSite& site : sites) entries.push_back(site.entry);
  analyzeLiveness(arch, siteRegions(sites), entries, plan);
  return plan;
}

void appendTrampolineFree(std::vector<Step>& steps, const Trampoline& trampoline, uint8_t fill, bool release) {
  if (release)
    steps.push_back(ReleaseStep{.address = trampoline.address, .size = trampoline.bytes.size(), .label = "trampoline"});
  steps.push_back(StoreStep{.address = trampoline.address,
                            .bytes = std::vector<uint8_t>(trampoline.bytes.size(), fill),
                            .label = "trampoline (freed)",
                            .live = true});
}

}  // namespace hph
