#include "properties/PropertyMonitor.h"

#include <tuple>

#include <fmt/format.h>

#include "patch/LiveCode.h"  // inSiteRegions

namespace hph {

PropertyMonitor::PropertyMonitor(const Arch& arch, std::vector<PatchSite> sites, Plan plan, PropertyOptions options)
    : arch_(arch), sites_(std::move(sites)), plan_(std::move(plan)), options_(options),
      code_(arch, sites_, options.protocol.idc, options.protocol.dic) {}

std::vector<uint64_t> PropertyMonitor::replacementEntries() const {
  std::vector<uint64_t> out;
  for (const PatchSite& s : sites_) out.push_back(s.replacement);
  return out;
}

void PropertyMonitor::runStarted(const Machine& machine, const Process& process) {
  machine_ = &machine;
  process_ = &process;
  code_.reset();
  violation_.reset();
  exercise_ = {};
  suspended_ = false;
  planDone_ = plan_.steps.empty();
  stepsDone_ = 0;
  lastSync_.reset();
  int3Stores_.clear();
  storeLog_.clear();
  threads_.clear();
}

namespace {

// A tuple of references as a tuple of the values they refer to.
template <class... Fields> std::tuple<std::decay_t<Fields>...> valuesOf(const std::tuple<Fields&...>& fields) {
  return fields;
}

}  // namespace

template <class Monitor> auto PropertyMonitor::runFields(Monitor& m) {
  return std::tie(m.code_, m.violation_, m.exercise_, m.suspended_, m.planDone_, m.stepsDone_, m.lastSync_,
                  m.int3Stores_, m.storeLog_, m.threads_);
}

std::any PropertyMonitor::saveRun() const { return valuesOf(runFields(*this)); }

void PropertyMonitor::restoreRun(const std::any& saved) {
  runFields(*this) = std::any_cast<const decltype(valuesOf(runFields(*this)))&>(saved);
}

PropertyMonitor::ThreadFacts& PropertyMonitor::thread(uint32_t index) {
  auto [it, added] = threads_.try_emplace(index);
  // A thread starts context-synchronised: the Scheduler says so when it first runs (a
  // thread first seen here otherwise is a fallback).
  if (added) it->second.lastSync = stepsDone_;
  return it->second;
}

void PropertyMonitor::contextSynchronized(uint32_t index) { thread(index).lastSync = stepsDone_; }

std::vector<uint32_t> PropertyMonitor::fetchableVersions(uint32_t index, uint64_t pc) {
  // Only where fetch may see stale code (A3); versions are kept per aligned word.
  if (!options_.fetchModel || arch_.facts().fetchCoherentWithStores || pc % 4) return {};
  const auto* history = code_.versions(pc);
  if (!history || history->size() < 2) return {};
  ThreadFacts& t = thread(index);
  // From the newest version its last synchronisation guarantees, up to the newest written.
  size_t oldest = 0;
  for (size_t i = 0; i < history->size(); ++i)
    if ((*history)[i].visibleAt && *(*history)[i].visibleAt <= t.lastSync) oldest = i;
  if (options_.fetchCoherent)
    if (const auto it = t.fetchedVersion.find(pc); it != t.fetchedVersion.end()) oldest = std::max(oldest, it->second);
  std::vector<uint32_t> out;
  for (size_t i = history->size(); i-- > oldest;) out.push_back((*history)[i].word);
  return out;
}

void PropertyMonitor::fetched(uint32_t index, uint64_t pc, size_t version) {
  const auto* history = code_.versions(pc);
  if (!history) return;
  size_t& newest = thread(index).fetchedVersion[pc];
  newest = std::max(newest, history->size() - 1 - version);
}

std::string PropertyMonitor::where(uint64_t address) const {
  return machine_ ? machine_->describeAddress(address) : fmt::format("{:#x}", address);
}

std::string PropertyMonitor::stepText(std::optional<size_t> step) const {
  if (!step || *step >= plan_.steps.size()) return "before any patch step";
  return fmt::format("step {} ({})", *step + 1, describeStep(plan_.steps[*step]));
}

void PropertyMonitor::report(Property property, ActorId actor, uint64_t pc, std::optional<size_t> step,
                             std::string bytes, std::string message) {
  if (violation_) return;  // the first one found is the run's
  if (std::find(options_.ignore.begin(), options_.ignore.end(), property) != options_.ignore.end()) return;
  Violation v;
  v.property = property;
  v.actor = actor;
  v.pc = pc;
  v.step = step;
  v.bytes = std::move(bytes);
  v.message = std::move(message);
  violation_ = std::move(v);
}

void PropertyMonitor::beforeStore(size_t step, const StoreStep& store, uint64_t address, std::span<const uint8_t> bytes,
                                  bool first, bool last) {
  code_.setStep(step);
  if (first) {
    checkStore(step, store);
    code_.beginStore(step, store.address, store.bytes.size());
  }
  code_.writePiece(address, bytes);
  // X1: where a one-byte breakpoint went (the bytes under it may change once every thread
  // serialised after it).
  const auto& breakpoint = arch_.facts().singleByteBreakpoint;
  if (first && breakpoint && store.bytes.size() == 1 && store.bytes[0] == breakpoint->opcode)
    int3Stores_[store.address] = step;
  if (last) {
    code_.endStore();
    storeLog_.push_back({step, {store.address, store.address + store.bytes.size()}});
  }
}

void PropertyMonitor::afterStep(size_t step, const Step& what) {
  code_.setStep(step);
  if (std::holds_alternative<SuspendAllStep>(what)) suspended_ = true;
  if (std::holds_alternative<ResumeAllStep>(what)) suspended_ = false;
  if (std::holds_alternative<SyncAllStep>(what)) lastSync_ = step;
  if (const auto* maintenance = std::get_if<CacheMaintenanceStep>(&what))
    code_.cacheMaintenance(maintenance->address, maintenance->size, maintenance->cleanData,
                           maintenance->invalidateInstructions);
  if (step + 1 == plan_.steps.size()) planDone_ = true;
  stepsDone_ = step + 1;
  // Sync-all: every thread context-synchronises (an IPI, FlushProcessWriteBuffers).
  if (std::holds_alternative<SyncAllStep>(what))
    for (auto& [index, t] : threads_) t.lastSync = stepsDone_;
  // Vacuity: did this step land while some thread was inside a watched window? It
  // exercises its own site when a thread was inside that one's (sites of a series share
  // a function's window: the plan says which site a step patches).
  const std::optional<size_t> stepSite =
      plan_.stepSites.size() == plan_.steps.size() ? std::optional<size_t>(plan_.stepSites[step]) : std::nullopt;
  bool inWindow = false;
  for (const GuestThread& t : process_->threads()) {
    if (t.state == ThreadState::kFinished || !t.started) continue;
    const uint64_t pc = process_->pcOf(t.index);
    if (!code_.tracked(pc)) continue;
    inWindow = true;
    for (size_t s = 0; s < sites_.size(); ++s)
      if ((!stepSite || *stepSite == s) && inSiteRegions(sites_[s], pc)) exercise_.markSite(s);
  }
  if (inWindow) ++exercise_.stepsWithThreadInWindow;
}

void PropertyMonitor::beforeInstruction(uint32_t thread, uint64_t pc, bool resumed) {
  // Arm64 ISB: from here on the thread fetches what was made visible.
  if (machine_->contextSynchronizingAt(pc)) contextSynchronized(thread);
  checkFetch(thread, pc, resumed);
  if (violation_) return;
  if (!resumed)
    checkCalls(thread, pc);
  else
    callResumed(thread, pc);  // the rest was seen once already, before it stopped
}

void PropertyMonitor::runFinished() {}

}  // namespace hph
