// A scenario read, checked and resolved once, shared read-only by every exploration job:
// the images, the patch layout and plan, and every name the scenario uses turned into an
// address. Bad input is found here, as "<scenario>: <field>: problem", never later.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "emu/core/Machine.h"
#include "emu/pe/PeImage.h"
#include "harness/scenario/Scenario.h"
#include "patch/PatchLayout.h"
#include "patch/Protocol.h"
#include "plan/Plan.h"
#include "properties/EntryPaths.h"
#include "properties/PropertyMonitor.h"

namespace hph {

// An [onhost] counter: a function returning the count, or an exported 64-bit variable.
struct OnHostCounter {
  uint64_t address = 0;
  bool variable = false;
};

struct ScenarioInputs {
  Scenario scenario;
  std::shared_ptr<const PeImage> base;
  std::string scenarioSha256;
  std::string baseSha256;
  PointsMode points = PointsMode::kAll;
  uint64_t threadEntry = 0;                // [threads].entry
  std::optional<uint64_t> invariantEntry;  // [check].invariant
  // [onhost].calls and .new_calls (each in the base or a patch image).
  std::optional<OnHostCounter> onHostCalls, onHostNewCalls;
  // [[host_write]]: raw stores the patcher makes, when there is no patch image.
  std::vector<StoreStep> hostWrites;
  // With patch images: the hotpatch area, the images, the sites and the plan built for them.
  PatchLayout layout;
  ProtocolOptions protocolOptions;
  Plan plan;
  // int3-3step: a thread at the transient int3 on an entry continues here (the
  // replacement, or for the resume-inside defect right after the int3).
  std::vector<std::pair<uint64_t, uint64_t>> breakpointRedirects;
  // C5: the pure sites and where their direct callers resume.
  std::vector<PureSite> pure;
  // Scheduling points: windows around the patch sites and host writes, the hotpatch area,
  // the replacements and the patched functions (whole), the pure callers' return sites
  // and the functions [explore].watch names, in any loaded image.
  std::vector<AddressRange> watched;
  // Hybrid scenarios: per site (in layout order), the exports [[functions]].callers names,
  // at their addresses.
  std::vector<std::vector<NamedEntry>> declaredCallers;
  // Writable sections of every loaded image: the data threads may share (footprints).
  std::vector<AddressRange> sharedData;
};

Result<std::shared_ptr<const ScenarioInputs>> prepareScenario(const Scenario& scenario);

}  // namespace hph
