// One worker's world for a scenario: the base image loaded into its own Machine, the
// guest threads, the patcher's plan and the Scheduler over them. Exploration jobs each
// build a Session from the same (read-only) ScenarioInputs.
#pragma once

#include <memory>
#include <string>

#include "emu/core/Scheduler.h"
#include "emu/pe/ImageLoader.h"
#include "harness/scenario/Scenario.h"
#include "patch/Protocol.h"

namespace hph {

// Everything that is read and checked once per scenario, shared by all workers.
struct ScenarioInputs {
  Scenario scenario;
  std::shared_ptr<const PeImage> base;
  std::string scenarioSha256;
  std::string baseSha256;
  PointsMode points = PointsMode::kAll;
  // With a patch image: where it loads (within reach of the base: right after it), the
  // area plans put trampolines and veneers in, the sites and the plan itself.
  std::shared_ptr<const PeImage> patch;
  std::string patchSha256;
  uint64_t patchBase = 0;
  uint64_t scratchBase = 0;
  std::vector<PatchSite> sites;
  Plan plan;
  // SHA-256 over scenario, images and hph version: replay tokens carry its first bytes.
  std::vector<uint8_t> inputsDigest;
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

  RunRecord run(DecisionSource& source, bool recordTrace = false) {
    return scheduler_->run(source, recordTrace);
  }
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
};

}  // namespace hph
