#include "harness/explore/Session.h"

namespace hph {

Session::~Session() = default;

RunRecord Session::run(DecisionSource& source, bool recordTrace) {
  RunRecord record = scheduler_->run(source, recordTrace);
  if (monitor_) record.exercise = monitor_->exercise();
  return record;
}

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const ScenarioInputs> inputs, bool trackFootprints) {
  std::unique_ptr<Session> session(new Session());
  session->inputs_ = inputs;
  const Scenario& scenario = inputs->scenario;
  const PeImage& image = *inputs->base;
  auto machine = Machine::create(*image.arch);
  if (!machine) return machine.error();
  session->machine_ = std::move(machine).value();
  Machine& m = *session->machine_;
  if (auto loaded = loadPatchedImages(m, image, inputs->layout); !loaded) return loaded.error();

  ScheduleSetup setup;
  for (uint32_t i = 0; i < scenario.threadCount; ++i) setup.threads.push_back({inputs->threadEntry, i});
  setup.threadBudget = scenario.threadBudget;
  if (inputs->invariantEntry) {
    setup.invariantEntry = inputs->invariantEntry;
    setup.invariantName = *scenario.invariant;
  }
  setup.plan.steps.assign(inputs->hostWrites.begin(), inputs->hostWrites.end());
  if (!inputs->layout.patches.empty()) {
    setup.plan = inputs->plan;
    setup.breakpointRedirects = inputs->breakpointRedirects;
    for (const PatchSite& site : inputs->layout.sites) setup.callEntries.push_back(site.entry);
    PropertyOptions options{.protocol = inputs->protocolOptions,
                            .fetchModel = scenario.arm64.model,
                            .fetchCoherent = scenario.arm64.fetchCoherent,
                            .ignore = scenario.ignore,
                            .pure = inputs->pure};
    if (!options.pure.empty()) {
      auto reference = ReferenceMachine::create(image, inputs->layout, scenario.threadBudget);
      if (!reference) return reference.error();
      session->reference_ = std::move(reference).value();
      options.reference = session->reference_.get();
    }
    session->monitor_ = std::make_unique<PropertyMonitor>(*image.arch, inputs->layout.sites, inputs->plan, options);
  }
  if (auto r = m.watchInstructions(inputs->watched, inputs->points == PointsMode::kAll); !r) return r.error();
  setup.visiblePointsOnly = inputs->points == PointsMode::kVisible;
  if (trackFootprints) {
    // Shared data: the writable sections of every image. Stacks and TEBs are per thread.
    // Code the patcher stores to can also be read as data (literal pools, a guest checking
    // its own prologue): those reads must conflict with the stores.
    std::vector<AddressRange> shared = inputs->sharedData;
    shared.insert(shared.end(), inputs->watched.begin(), inputs->watched.end());
    if (auto r = m.trackDataAccesses(shared); !r) return r.error();
  }
  session->process_ = std::make_unique<Process>(m, scenario.stackBytes);
  // Thread areas are mapped before the snapshot so every schedule starts from them zeroed.
  for (uint32_t i = 0; i < scenario.threadCount; ++i)
    if (auto spawned = session->process_->spawn(0, 0); !spawned) return spawned.error();
  session->process_->reset();
  session->scheduler_ = std::make_unique<Scheduler>(m, *session->process_, m.snapshot(), std::move(setup));
  session->scheduler_->setMonitor(session->monitor_.get());
  session->scheduler_->setCheckpoints(scenario.explore.checkpoints);
  session->scheduler_->setCommutingAdds(scenario.explore.atomicAddsCommute);
  return session;
}

}  // namespace hph
