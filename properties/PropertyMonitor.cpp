#include "properties/PropertyMonitor.h"

#include <fmt/format.h>

namespace hph {

std::string hexBytes(std::span<const uint8_t> bytes) {
  std::string out;
  for (uint8_t b : bytes) out += fmt::format("{}{:02x}", out.empty() ? "" : " ", b);
  return out;
}

PropertyMonitor::PropertyMonitor(const Arch& arch, std::vector<PatchSite> sites, Plan plan, PropertyOptions options)
    : arch_(arch),
      sites_(std::move(sites)),
      plan_(std::move(plan)),
      options_(options),
      code_(arch, sites_, options.idc, options.dic) {}

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
  lastSync_.reset();
  int3Stores_.clear();
  storeLog_.clear();
  threads_.clear();
}

PropertyMonitor::ThreadState& PropertyMonitor::thread(uint32_t index) { return threads_[index]; }

std::string PropertyMonitor::where(uint64_t address) const {
  return machine_ ? machine_->describeAddress(address) : fmt::format("{:#x}", address);
}

std::string PropertyMonitor::stepText(std::optional<size_t> step) const {
  if (!step || *step >= plan_.steps.size()) return "before any patch step";
  return fmt::format("step {} ({})", *step + 1, describeStep(plan_.steps[*step]));
}

void PropertyMonitor::report(std::string property, ActorId actor, uint64_t pc, std::optional<size_t> step,
                             std::string bytes, std::string message) {
  if (violation_) return;  // the first one found is the run's
  if (std::find(options_.ignore.begin(), options_.ignore.end(), property) != options_.ignore.end()) return;
  Violation v;
  v.property = std::move(property);
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
  if (first && store.bytes.size() == 1 && store.bytes[0] == 0xCC && arch_.kind() == ArchKind::kX64)
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
    code_.cacheMaintenance(maintenance->address, maintenance->size);
  if (step + 1 == plan_.steps.size()) planDone_ = true;
  // Vacuity: did this step land while some thread was inside a watched window?
  for (const GuestThread& t : process_->threads())
    if (t.state != hph::ThreadState::kFinished && t.started && code_.tracked(process_->pcOf(t.index))) {
      ++exercise_.stepsWithThreadInWindow;
      break;
    }
}

void PropertyMonitor::beforeInstruction(uint32_t thread, uint64_t pc, bool resumed) {
  checkFetch(thread, pc, resumed);
  if (!violation_) checkCalls(thread, pc);
}

void PropertyMonitor::runFinished() {}

}  // namespace hph
