#include "emu/core/Process.h"

#include <fmt/format.h>

#include <cstring>

namespace hph {
namespace {

constexpr uint64_t kTebBytes = 0x1000;
constexpr uint64_t kAreaAlignment = 0x10000;
constexpr uint64_t kFirstThreadId = 0x100;
constexpr uint64_t kFirstHandle = 0x1000;

// NT_TIB64 / TEB64 fields a guest reads (same layout on x64 and Arm64).
constexpr uint64_t kTebStackBase = 0x08;
constexpr uint64_t kTebStackLimit = 0x10;
constexpr uint64_t kTebSelf = 0x30;
constexpr uint64_t kTebProcessId = 0x40;
constexpr uint64_t kTebThreadId = 0x48;

}  // namespace

Process::Process(Machine& machine, uint64_t stackBytes)
    : machine_(machine), stackBytes_((stackBytes + 0xFFF) & ~uint64_t{0xFFF}),
      // An unmapped gap between areas: a stack overflow faults instead of corrupting
      // the neighbouring thread's TEB.
      areaStride_(((stackBytes_ + kTebBytes + kAreaAlignment - 1) & ~(kAreaAlignment - 1)) + kAreaAlignment) {
  machine_.setThreadServices(this);
  uc_context* clean = nullptr;
  uc_context_alloc(machine_.engine().get(), &clean);
  uc_context_save(machine_.engine().get(), clean);
  clean_ = std::shared_ptr<uc_context>(clean, uc_context_free);
}

Process::~Process() { machine_.setThreadServices(nullptr); }

void Process::reset() {
  threads_.clear();
  threads_.reserve(kMaxThreads);
  mainLastError_ = 0;
  loaded_ = -1;
  running_ = -1;
}

ProcessCheckpoint Process::checkpoint() const {
  ProcessCheckpoint saved{threads_, mainLastError_};
  uc_engine* engine = machine_.engine().get();
  const size_t bytes = uc_context_size(engine);
  for (GuestThread& t : saved.threads) {
    if (!t.started) continue;
    uc_context* copy = nullptr;
    if (uc_context_alloc(engine, &copy) != UC_ERR_OK) {
      saved.threads.clear();  // the caller sees an empty checkpoint and keeps none
      return saved;
    }
    // The loaded thread's registers are the engine's; the others' are in their contexts.
    if (loaded_ == static_cast<int>(t.index))
      uc_context_save(engine, copy);
    else
      std::memcpy(copy, t.context.get(), bytes);
    t.context = std::shared_ptr<uc_context>(copy, uc_context_free);
  }
  return saved;
}

void Process::resume(const ProcessCheckpoint& saved) {
  const size_t bytes = uc_context_size(machine_.engine().get());
  threads_ = saved.threads;
  for (GuestThread& t : threads_) {
    // Back into the per-index context, so the checkpoint's copy stays as it was.
    if (t.started) std::memcpy(contexts_[t.index].get(), t.context.get(), bytes);
    t.context = contexts_[t.index];
  }
  mainLastError_ = saved.mainLastError;
  loaded_ = -1;
  running_ = -1;
}

Result<void> Process::ensureArea(uint32_t index) {
  while (areas_.size() <= index) {
    const uint64_t base = kThreadAreaBase + areas_.size() * areaStride_;
    auto area = machine_.map(base, stackBytes_ + kTebBytes, kReadWrite, fmt::format("thread[{}]", areas_.size()));
    if (!area) return area.error();
    areas_.push_back(*area);
  }
  return {};
}

Result<uint32_t> Process::spawn(uint64_t entry, uint64_t argument) {
  if (threads_.size() >= kMaxThreads) return badInput(fmt::format("more than {} guest threads", kMaxThreads));
  const auto index = static_cast<uint32_t>(threads_.size());
  if (auto area = ensureArea(index); !area) return area.error();
  GuestThread thread;
  thread.index = index;
  thread.id = kFirstThreadId + 4 * index;
  thread.handle = kFirstHandle + 4 * index;
  thread.entry = entry;
  thread.argument = argument;
  thread.stackTop = areas_[index]->base + stackBytes_;
  thread.teb = thread.stackTop;  // the TEB page sits above the stack
  // The TEB is written now (plain memory); registers wait until the thread first runs,
  // because spawn may be called from inside a shim while another thread is running.
  const uint64_t fields[][2] = {{kTebStackBase, thread.stackTop},
                                {kTebStackLimit, areas_[index]->base},
                                {kTebSelf, thread.teb},
                                {kTebProcessId, Machine::kProcessId},
                                {kTebThreadId, thread.id}};
  for (const auto& [offset, value] : fields)
    machine_.writeGuest(thread.teb + offset, {reinterpret_cast<const uint8_t*>(&value), 8});
  // Contexts are kept per thread index across schedules: one is large (the whole CPU
  // state), and allocating it afresh each run costs page faults. A context is only read
  // after this run saved into it.
  if (contexts_.size() <= index) {
    uc_context* context = nullptr;
    if (uc_context_alloc(machine_.engine().get(), &context) != UC_ERR_OK)
      return internalError("uc_context_alloc failed");
    contexts_.emplace_back(context, uc_context_free);
  }
  thread.context = contexts_[index];
  threads_.push_back(std::move(thread));
  return index;
}

void Process::saveLoaded() {
  if (loaded_ >= 0) uc_context_save(machine_.engine().get(), threads_[loaded_].context.get());
}

Result<void> Process::start(GuestThread& thread) {
  saveLoaded();
  uc_context_restore(machine_.engine().get(), clean_.get());
  const uint64_t args[] = {thread.argument};
  const CallFrame frame{thread.entry, args, thread.stackTop, Machine::kReturnSentinel};
  if (auto prepared = machine_.arch().prepareCall(machine_.engine(), frame); !prepared) return prepared.error();
  machine_.arch().setThreadPointer(machine_.engine(), thread.teb);
  thread.started = true;
  loaded_ = static_cast<int>(thread.index);
  return {};
}

RunStop Process::run(uint32_t index, uint64_t budget) {
  GuestThread& thread = threads_[index];
  if (!thread.started) {
    if (auto started = start(thread); !started) return {StopKind::kError, 0, {}, started.error()};
  } else if (loaded_ != static_cast<int>(index)) {
    // uc_context_alloc memory is uninitialised; every context was saved before this.
    saveLoaded();
    uc_context_restore(machine_.engine().get(), thread.context.get());
    loaded_ = static_cast<int>(index);
  }
  running_ = static_cast<int>(index);
  const bool fast = !machine_.countingInstructions();
  const double allowedSeconds = static_cast<double>(budget) / RunWatchdog::kMaxInstructionsPerSecond;
  const auto started = RunWatchdog::Clock::now();
  const auto deadline = started + std::chrono::duration_cast<RunWatchdog::Clock::duration>(
                                      std::chrono::duration<double>(allowedSeconds - thread.fastSeconds));
  RunStop stop = machine_.run(budget, fast ? std::optional(deadline) : std::nullopt);
  running_ = -1;
  // CreateThread inside the run may have grown threads_: `thread` is stale now.
  GuestThread& ran = threads_[index];
  if (fast) {
    ran.fastSeconds += std::chrono::duration<double>(RunWatchdog::Clock::now() - started).count();
    if (ran.fastSeconds > allowedSeconds) stop = RunStop{StopKind::kTimeout, 0, {}, {}};
    if (stop.kind == StopKind::kTimeout) return stop;
  }
  ran.instructions += stop.instructions;
  if (stop.kind == StopKind::kReturned) finish(ran, machine_.arch().returnValue(machine_.engine()));
  if (stop.kind == StopKind::kBlocked) ran.state = ThreadState::kBlocked;
  return stop;
}

void Process::finish(GuestThread& thread, uint64_t exitCode) {
  thread.state = ThreadState::kFinished;
  thread.exitCode = exitCode;
  for (GuestThread& other : threads_)
    if (other.state == ThreadState::kBlocked && other.waitingFor == thread.handle) {
      other.state = ThreadState::kRunnable;
      other.waitingFor = 0;
    }
}

uint64_t Process::registerOf(uint32_t index, int reg) const {
  const GuestThread& t = threads_[index];
  if (!t.started) return reg == machine_.arch().pcRegister() ? t.entry : 0;
  if (loaded_ == static_cast<int>(index)) return machine_.engine().reg(reg);
  uint64_t value = 0;
  uc_context_reg_read(t.context.get(), reg, &value);
  return value;
}

std::optional<std::pair<uint64_t, uint64_t>> Process::returnAddressInside(uint32_t index, uint64_t from,
                                                                          uint64_t size) const {
  const GuestThread& t = threads_[index];
  if (t.state == ThreadState::kFinished || !t.started) return std::nullopt;
  auto inside = [&](uint64_t v) { return v > from && v < from + size; };
  const Arch& arch = machine_.arch();
  if (const auto link = arch.facts().linkRegister) {
    const uint64_t lr = registerOf(index, *link);
    if (inside(lr)) return std::make_pair(lr, uint64_t{0});
  }
  for (uint64_t slot = registerOf(index, arch.spRegister()) & ~uint64_t{7}; slot + 8 <= t.stackTop; slot += 8) {
    uint64_t value = 0;
    if (!machine_.readGuest(slot, {reinterpret_cast<uint8_t*>(&value), 8})) break;
    if (inside(value)) return std::make_pair(value, slot);
  }
  return std::nullopt;
}

void Process::setPc(uint32_t index, uint64_t pc) {
  GuestThread& t = threads_[index];
  if (!t.started) {
    t.entry = pc;
  } else if (loaded_ == static_cast<int>(index)) {
    machine_.engine().setReg(machine_.arch().pcRegister(), pc);
  } else {
    uc_context_reg_write(t.context.get(), machine_.arch().pcRegister(), &pc);
  }
}

const GuestThread* Process::byHandle(uint64_t handle) const {
  for (const GuestThread& t : threads_)
    if (t.handle == handle) return &t;
  return nullptr;
}

uint64_t Process::currentThreadId() const { return running_ >= 0 ? threads_[running_].id : Machine::kMainThreadId; }

std::optional<uint64_t> Process::createThread(uint64_t entry, uint64_t parameter, uint64_t* id) {
  auto index = spawn(entry, parameter);
  if (!index) return std::nullopt;
  if (id) *id = threads_[*index].id;
  return threads_[*index].handle;
}

ThreadServices::WaitResult Process::wait(uint64_t handle, bool mayBlock) {
  const GuestThread* target = byHandle(handle);
  if (!target) return WaitResult::kInvalidHandle;
  if (target->state == ThreadState::kFinished) return WaitResult::kSignaled;
  if (!mayBlock || running_ < 0) return WaitResult::kTimeout;
  threads_[running_].waitingFor = handle;
  return WaitResult::kWouldBlock;
}

std::optional<uint64_t> Process::exitCode(uint64_t handle) const {
  const GuestThread* target = byHandle(handle);
  if (!target) return std::nullopt;
  return target->state == ThreadState::kFinished ? target->exitCode : kStillActive;
}

}  // namespace hph
