// One exploration job's world for a scenario: the images loaded into its own Machine, the
// guest threads, the property checkers and the Scheduler over them. Every job builds a
// Session from the same read-only ScenarioInputs.
#pragma once

#include <memory>

#include "emu/core/Scheduler.h"
#include "harness/scenario/PreparedScenario.h"
#include "properties/PropertyMonitor.h"
#include "properties/ReferenceMachine.h"

namespace hph {

class Session {
 public:
  // trackFootprints: report data accesses to shared memory (for sleep-set reduction).
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const ScenarioInputs> inputs, bool trackFootprints);
  ~Session();

  RunRecord run(DecisionSource& source, bool recordTrace = false);
  // Runs may resume from checkpoints (Scheduler::setCheckpoints; as the scenario says
  // when created).
  void setCheckpoints(bool on) { scheduler_->setCheckpoints(on); }
  // LOCK adds with dead results commute in footprints (Scheduler::setCommutingAdds).
  void setCommutingAdds(bool on) { scheduler_->setCommutingAdds(on); }
  const Scheduler::CheckpointStats& checkpointStats() const { return scheduler_->checkpointStats(); }
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
  std::unique_ptr<ReferenceMachine> reference_;  // with pure functions (C5)
  std::unique_ptr<PropertyMonitor> monitor_;     // with a patch: the property checkers
};

}  // namespace hph
