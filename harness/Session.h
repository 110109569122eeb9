// One worker's world for a scenario: the base image loaded into its own Machine, the
// guest threads, the patcher's plan and the Scheduler over them. Exploration jobs each
// build a Session from the same (read-only) ScenarioInputs.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "emu/core/Scheduler.h"
#include "emu/pe/ImageLoader.h"
#include "harness/scenario/Scenario.h"
#include "patch/Protocol.h"
#include "properties/PropertyMonitor.h"

namespace hph {

// One patch image of the scenario, and what loading it involves.
struct PatchImage {
  std::shared_ptr<const PeImage> image;
  std::string sha256;
  uint64_t loadAddress = 0;
  // Pointer cells (secure-hotpatch __ref_ cells, ABSOLUTE chunks): the cell's RVA in the
  // patch, and the base RVA whose address it must hold.
  std::vector<std::pair<uint32_t, uint32_t>> cells;
  uint32_t sequenceNumber = 0;  // from its own table; 0 for an explicitly mapped patch
};

// Everything that is read and checked once per scenario, shared by all workers.
struct ScenarioInputs {
  Scenario scenario;
  std::shared_ptr<const PeImage> base;
  std::string scenarioSha256;
  std::string baseSha256;
  PointsMode points = PointsMode::kAll;
  // With patch images: the hotpatch area right past the base image's end (address-table
  // stubs, trampolines, veneers), the images after it in order, the sites and the plan.
  std::vector<PatchImage> patches;
  uint64_t scratchBase = 0;
  std::vector<PatchSite> sites;
  Plan plan;
  // Scheduling points besides the plan's sites: the replacements (whole), the patched
  // functions (whole) and the functions [explore].watch names, in any loaded image,
  // resolved to addresses once here.
  std::vector<AddressRange> watched;
  // Writable sections of every loaded image: the data threads may share (footprints).
  std::vector<AddressRange> sharedData;
};

// Loads the base image (at its image base), the hotpatch area and the patch images, and
// fills the patches' pointer cells: the memory every run of the scenario starts from.
Result<LoadedImage> loadScenarioImages(Machine& machine, const ScenarioInputs& inputs);

// C5's reference runs: the old and the new function called on their own, on a machine of
// their own holding the scenario's images unpatched; results memoised by arguments.
class ScratchReference final : public ReferenceCalls {
 public:
  static Result<std::unique_ptr<ScratchReference>> create(std::shared_ptr<const ScenarioInputs> inputs);
  std::optional<std::pair<uint64_t, uint64_t>> results(size_t site, const std::vector<uint64_t>& args) override;

 private:
  ScratchReference() = default;
  std::shared_ptr<const ScenarioInputs> inputs_;
  std::unique_ptr<Machine> machine_;
  MemorySnapshot initial_;
  std::map<std::pair<size_t, std::vector<uint64_t>>, std::optional<std::pair<uint64_t, uint64_t>>> memo_;
};

// Reads the image, resolves every name the scenario uses, checks the combination. Bad
// input here is exit 2 with "<scenario>: <field>: problem".
Result<std::shared_ptr<const ScenarioInputs>> prepareScenario(const Scenario& scenario);

class Session {
 public:
  // trackFootprints: report data accesses to shared memory (for sleep-set reduction).
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const ScenarioInputs> inputs,
                                                 bool trackFootprints);
  ~Session();

  RunRecord run(DecisionSource& source, bool recordTrace = false);
  const ScenarioInputs& inputs() const { return *inputs_; }
  Machine& machine() { return *machine_; }
  uint32_t initialThreads() const { return inputs_->scenario.threadCount; }
  bool hasPatcher() const { return !scheduler_->setup().plan.empty(); }

 private:
  Session() = default;
  std::shared_ptr<const ScenarioInputs> inputs_;
  std::unique_ptr<Machine> machine_;
  std::unique_ptr<Process> process_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ScratchReference> reference_;  // with pure functions (C5)
  std::unique_ptr<PropertyMonitor> monitor_;  // with a patch: the property checkers
};

}  // namespace hph
