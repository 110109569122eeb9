#include "emu/core/Machine.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace hph {
namespace {

constexpr size_t kBlockCountCacheSize = 1 << 13;

uint32_t ucPermissions(uint32_t permissions) {
  uint32_t out = 0;
  if (permissions & kRead) out |= UC_PROT_READ;
  if (permissions & kWrite) out |= UC_PROT_WRITE;
  if (permissions & kExecute) out |= UC_PROT_EXEC;
  return out;
}

}  // namespace

Machine::Machine(const Arch& arch, Engine engine)
    : arch_(arch), engine_(std::move(engine)), memory_(arch.pageSize()), blockCounts_(kBlockCountCacheSize) {}

Machine::~Machine() = default;

Result<std::unique_ptr<Machine>> Machine::create(const Arch& arch) {
  auto engine = arch.openEngine();
  if (!engine) return engine.error();
  std::unique_ptr<Machine> machine(new Machine(arch, std::move(engine).value()));
  if (auto hooks = machine->installHooks(); !hooks) return hooks.error();

  auto shims = machine->map(kShimBase, kShimSlots * kShimSlotBytes, kRead | kExecute, "shims");
  if (!shims) return shims.error();
  auto sentinel = machine->map(kSentinelPage, arch.pageSize(), kRead | kExecute, "sentinel");
  if (!sentinel) return sentinel.error();
  auto stack = machine->map(kStackBase, kStackBytes, kReadWrite, "stack");
  if (!stack) return stack.error();
  machine->callStack_ = *stack;
  return machine;
}

Result<void> Machine::installHooks() {
  uc_engine* uc = engine_.get();
  uc_hook hook;
  // Block hook over all memory: counts instructions and enforces the budget without
  // Unicorn's per-instruction counting hook (3.5x slower on x64, NOTES-deps).
  if (uc_hook_add(uc, &blockHook_, UC_HOOK_BLOCK, reinterpret_cast<void*>(&onBlock), this, 1, 0) ||
      uc_hook_add(uc, &hook, UC_HOOK_CODE, reinterpret_cast<void*>(&onShim), this, kShimBase,
                  kShimBase + kShimSlots * kShimSlotBytes - 1) ||
      uc_hook_add(uc, &hook,
                  UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED | UC_HOOK_MEM_FETCH_UNMAPPED |
                      UC_HOOK_MEM_READ_PROT | UC_HOOK_MEM_WRITE_PROT | UC_HOOK_MEM_FETCH_PROT,
                  reinterpret_cast<void*>(&onMemoryFault), this, 1, 0) ||
      uc_hook_add(uc, &hook, UC_HOOK_INTR, reinterpret_cast<void*>(&onInterrupt), this, 1, 0))
    return internalError("cannot install Unicorn hooks");
  return {};
}

void Machine::forgetAllCode() {
  // Hooks are compiled into translated blocks; retranslating the code regions is enough
  // (uc_ctl_flush_tlb would clear Unicorn's whole translation buffer).
  for (const auto& region : memory_.regions())
    if (region->permissions & kExecute) engine_.forgetCode(region->base, region->end());
}

void Machine::setInstructionCounting(bool on) {
  if (on == countingInstructions()) return;
  if (on) {
    uc_hook_add(engine_.get(), &blockHook_, UC_HOOK_BLOCK, reinterpret_cast<void*>(&onBlock), this, 1, 0);
  } else {
    uc_hook_del(engine_.get(), blockHook_);
    blockHook_ = 0;
    if (!watchdog_) watchdog_ = std::make_unique<RunWatchdog>(engine_.get());
  }
  forgetAllCode();
}

void Machine::setPrecisePc(bool on) {
  if (on == (preciseHook_ != 0)) return;
  if (on) {
    uc_hook_add(engine_.get(), &preciseHook_, UC_HOOK_CODE, reinterpret_cast<void*>(&onEveryInstruction), this, 1, 0);
  } else {
    uc_hook_del(engine_.get(), preciseHook_);
    preciseHook_ = 0;
  }
  forgetAllCode();
}

void Machine::removeHooks(std::vector<uc_hook>& hooks) {
  for (uc_hook h : hooks) uc_hook_del(engine_.get(), h);
  hooks.clear();
}

Result<void> Machine::watchInstructions(const std::vector<AddressRange>& ranges, bool everywhere) {
  removeHooks(watchHooks_);
  // Unicorn calls every hook whose range holds the address: overlapping ranges would make
  // one instruction two scheduling points. Merge them.
  std::vector<AddressRange> hooked = ranges;
  std::sort(hooked.begin(), hooked.end(), [](const auto& a, const auto& b) { return a.begin < b.begin; });
  std::vector<AddressRange> merged;
  for (const AddressRange& r : hooked) {
    if (!merged.empty() && r.begin <= merged.back().end)
      merged.back().end = std::max(merged.back().end, r.end);
    else
      merged.push_back(r);
  }
  watched_ = everywhere ? std::vector<AddressRange>{{1, 0}} : merged;  // begin > end: everywhere
  if (auto installed = installWatchHooks(); !installed) return installed;
  forgetAllCode();
  return {};
}

Result<void> Machine::installWatchHooks() {
  for (const AddressRange& r : watched_) {
    uc_hook h;
    if (uc_hook_add(engine_.get(), &h, UC_HOOK_CODE, reinterpret_cast<void*>(&onWatched), this, r.begin, r.end - 1) !=
        UC_ERR_OK)
      return internalError("cannot install the watch hook");
    watchHooks_.push_back(h);
  }
  return {};
}

bool Machine::watches(uint64_t address) const {
  return std::any_of(watched_.begin(), watched_.end(),
                     [&](const AddressRange& r) { return r.begin > r.end || r.contains(address); });
}

Result<void> Machine::trackDataAccesses(const std::vector<AddressRange>& ranges) {
  removeHooks(dataHooks_);
  tracked_ = ranges;
  if (auto installed = installDataHooks(); !installed) return installed;
  forgetAllCode();
  return {};
}

Result<void> Machine::installDataHooks() {
  for (const AddressRange& r : tracked_) {
    uc_hook h;
    if (uc_hook_add(engine_.get(), &h, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, reinterpret_cast<void*>(&onData), this,
                    r.begin, r.end - 1) != UC_ERR_OK)
      return internalError("cannot install the data hook");
    dataHooks_.push_back(h);
  }
  return {};
}

Result<void> Machine::renewEngine() {
  auto fresh = arch_.openEngine();
  if (!fresh) return fresh.error();
  for (const auto& r : memory_.regions())
    if (auto mapped = mapInto(*fresh, *r); !mapped) return mapped;
  const bool counting = countingInstructions(), precise = preciseHook_ != 0;
  watchdog_.reset();  // it holds the old engine
  engine_ = std::move(fresh).value();
  watchHooks_.clear();
  dataHooks_.clear();
  blockHook_ = preciseHook_ = 0;
  if (auto hooks = installHooks(); !hooks) return hooks;
  if (auto hooks = installWatchHooks(); !hooks) return hooks;
  if (auto hooks = installDataHooks(); !hooks) return hooks;
  if (!counting) setInstructionCounting(false);
  if (precise) setPrecisePc(true);
  forgottenPages_ = 0;
  ++renewals_;
  ++blockGeneration_;
  return {};
}

Result<Region*> Machine::map(uint64_t base, uint64_t size, uint32_t permissions, std::string name) {
  auto region = memory_.add(base, size, permissions, std::move(name));
  if (!region) return region;
  if (auto mapped = mapInto(engine_, *region.value()); !mapped) return mapped.error();
  // Mapped after the snapshot pages are tracked against: unknown until a restore compares it.
  if (!suspect_.empty()) suspect_.emplace_back(region.value()->size / memory_.pageSize(), true);
  return region.value();
}

Result<void> Machine::mapInto(const Engine& engine, const Region& r) {
  if (uc_err err = uc_mem_map_ptr(engine.get(), r.base, r.size, ucPermissions(r.permissions), r.bytes.get());
      err != UC_ERR_OK)
    return internalError(fmt::format("cannot map {} at 0x{:x}: {}", r.name, r.base, ucErrorText(err)));
  return {};
}

bool Machine::contextSynchronizingAt(uint64_t pc) const {
  const std::span<const uint8_t> sync = arch().facts().contextSynchronizingInstruction;
  std::array<uint8_t, 16> bytes{};
  return !sync.empty() && sync.size() <= bytes.size() && readGuest(pc, std::span(bytes).first(sync.size())) &&
         std::equal(sync.begin(), sync.end(), bytes.begin());
}

bool Machine::readGuest(uint64_t address, std::span<uint8_t> out) const {
  // The engine maps the address space's own buffers (uc_mem_map_ptr): reading them is
  // what uc_mem_read does, without its walk through the engine's memory map (a tenth of
  // an exploration's time at 40 calls per thread went there).
  if (const auto view = memory_.view(address, out.size()); !out.empty() && view.size() == out.size()) {
    std::memcpy(out.data(), view.data(), out.size());
    return true;
  }
  return engine_.read(address, out);
}

bool Machine::writeGuest(uint64_t address, std::span<const uint8_t> bytes) const {
  hostWrote(address, bytes.size());
  return engine_.write(address, bytes);
}

bool Machine::writeCode(uint64_t address, std::span<const uint8_t> bytes) {
  hostWrote(address, bytes.size());
  if (!engine_.write(address, bytes)) return false;
  engine_.forgetCode(address, address + bytes.size());
  ++forgottenPages_;
  ++blockGeneration_;
  return true;
}

void Machine::hostWrote(uint64_t address, uint64_t size) const {
  if (callStack_ && size > 0 && address < callStack_->end() && callStack_->base < address + size) callStackUsed_ = true;
  const auto& regions = memory_.regions();
  const uint64_t page = memory_.pageSize();
  for (size_t i = 0; i < regions.size() && i < suspect_.size(); ++i) {
    const Region& r = *regions[i];
    if (size == 0 || address >= r.end() || r.base >= address + size) continue;
    const uint64_t first = (std::max(address, r.base) - r.base) / page;
    const uint64_t last = (std::min(address + size, r.end()) - 1 - r.base) / page;
    for (uint64_t p = first; p <= last && p < suspect_[i].size(); ++p) suspect_[i][p] = true;
  }
}

bool Machine::mayDiffer(size_t i, uint64_t p, const MemorySnapshot& base) const {
  const Region& region = *memory_.regions()[i];
  if (region.permissions & kWrite) return true;  // the guest's stores are not tracked
  return base.id == 0 || base.id != suspectFor_ || i >= suspect_.size() || p >= suspect_[i].size() || suspect_[i][p];
}

MemorySnapshot Machine::snapshot() const {
  MemorySnapshot out;
  out.id = ++snapshots_;
  suspectFor_ = out.id;
  suspect_.clear();
  const uint64_t page = memory_.pageSize();
  for (const auto& region : memory_.regions()) {
    out.bytes.emplace_back(region->bytes.get(), region->bytes.get() + region->size);
    std::vector<bool>& zero = out.zeroPages.emplace_back();
    suspect_.emplace_back(region->size / page, false);
    for (uint64_t offset = 0; offset < region->size; offset += page)
      zero.push_back(std::all_of(region->bytes.get() + offset, region->bytes.get() + offset + page,
                                 [](uint8_t b) { return b == 0; }));
  }
  out.instructionsRetired = instructionsRetired_;
  out.shimCalls = shimCalls_;
  out.lastError = lastError_;
  return out;
}

namespace {

// One pass over the page (a memcmp against zeros reads two): most pages an exploration
// restores are stack pages that were and still are zero.
bool isZeroPage(const uint8_t* bytes, uint64_t size) {
  constexpr uint64_t kChunk = 256;
  for (uint64_t at = 0; at < size; at += kChunk) {
    uint64_t any = 0;
    const uint64_t n = std::min(kChunk, size - at) / sizeof(uint64_t);
    for (uint64_t w = 0; w < n; ++w) {
      uint64_t word;
      std::memcpy(&word, bytes + at + w * sizeof(uint64_t), sizeof(word));
      any |= word;
    }
    if (any != 0) return false;
  }
  for (uint64_t at = size & ~uint64_t{7}; at < size; ++at)
    if (bytes[at] != 0) return false;
  return true;
}

}  // namespace

void Machine::restore(const MemorySnapshot& snapshot) {
  restore(snapshot, MemoryDelta{.instructionsRetired = snapshot.instructionsRetired,
                                .shimCalls = snapshot.shimCalls,
                                .lastError = snapshot.lastError});
}

MemoryDelta Machine::delta(const MemorySnapshot& base) const {
  MemoryDelta out{.instructionsRetired = instructionsRetired_, .shimCalls = shimCalls_, .lastError = lastError_};
  const auto& regions = memory_.regions();
  const uint64_t page = memory_.pageSize();
  for (size_t i = 0; i < regions.size(); ++i) {
    const Region& region = *regions[i];
    if (&region == callStack_) continue;
    const uint8_t* saved = i < base.bytes.size() ? base.bytes[i].data() : nullptr;
    for (uint64_t offset = 0, p = 0; offset < region.size; offset += page, ++p) {
      if (!mayDiffer(i, p, base)) continue;
      const uint8_t* now = region.bytes.get() + offset;
      const bool same =
          saved && !base.zeroPages[i][p] ? std::memcmp(now, saved + offset, page) == 0 : isZeroPage(now, page);
      if (same) continue;
      out.pages.push_back({static_cast<uint32_t>(i), offset});
      out.bytes.insert(out.bytes.end(), now, now + page);
    }
  }
  return out;
}

void Machine::restore(const MemorySnapshot& base, const MemoryDelta& delta) {
  // A full translation flush (uc_ctl_flush_tlb) clears a large table each time; instead,
  // forget translations only of code pages whose bytes change (written by the patcher,
  // or by the guest itself).
  const auto& regions = memory_.regions();
  const uint64_t page = memory_.pageSize();
  bool codeChanged = false;
  size_t next = 0;  // the next page of the delta
  const bool tracked = base.id != 0 && base.id == suspectFor_;
  for (size_t i = 0; i < regions.size(); ++i) {
    Region& region = *regions[i];
    const uint8_t* saved = i < base.bytes.size() ? base.bytes[i].data() : nullptr;
    const bool untouchedStack = tracked && &region == callStack_ && !callStackUsed_;
    for (uint64_t offset = 0, p = 0; offset < region.size; offset += page, ++p) {
      uint8_t* now = region.bytes.get() + offset;
      // What the page must hold: the delta's copy, else the base's (nullptr: zeros).
      const uint8_t* target = saved && !base.zeroPages[i][p] ? saved + offset : nullptr;
      const bool inDelta =
          next < delta.pages.size() && delta.pages[next].region == i && delta.pages[next].offset == offset;
      if (inDelta) target = delta.bytes.data() + page * next++;
      const bool mayDifferNow = mayDiffer(i, p, base);
      // Put back, a page the guest cannot write differs from base only if the delta says so.
      if (tracked && !(region.permissions & kWrite) && i < suspect_.size() && p < suspect_[i].size())
        suspect_[i][p] = inDelta;
      if (!inDelta && (untouchedStack || !mayDifferNow)) continue;
      if (target ? std::memcmp(now, target, page) == 0 : isZeroPage(now, page)) continue;
      if (region.permissions & kExecute) {
        // Only the blocks over the bytes that differ: the rest of the page stays translated.
        auto differs = [&](uint64_t k) { return now[k] != (target ? target[k] : 0); };
        uint64_t first = 0, last = page - 1;
        while (!differs(first)) ++first;
        while (!differs(last)) --last;
        engine_.forgetCode(region.base + offset + first, region.base + offset + last + 1);
        codeChanged = true;
        ++forgottenPages_;
      }
      if (target)
        std::memcpy(now, target, page);
      else
        std::memset(now, 0, page);
    }
  }
  instructionsRetired_ = delta.instructionsRetired;
  shimCalls_ = delta.shimCalls;
  lastError_ = delta.lastError;
  callStackUsed_ = false;
  if (!tracked) {
    // Compared in full against this base: from now on the pages are tracked against it.
    suspectFor_ = base.id;
    suspect_.assign(regions.size(), {});
    for (size_t i = 0; i < regions.size(); ++i) {
      suspect_[i].assign(regions[i]->size / page, false);
      for (const MemoryDelta::Page& p : delta.pages)
        if (p.region == i) suspect_[i][p.offset / page] = true;
    }
  }
  if (codeChanged) ++blockGeneration_;
  // Between schedules the hot code is small: translating it again in a fresh engine
  // costs far less than the memory the abandoned translations would hold. A renewal that
  // failed halfway leaves no engine to trust: every later run reports it.
  if (forgottenPages_ >= kForgottenPagesPerEngine && !renewalFailed_)
    if (auto renewed = renewEngine(); !renewed) renewalFailed_ = renewed.error();
}

std::string Machine::symbolize(uint64_t address) const {
  for (const LoadedModule& module : modules_)
    if (address >= module.base && address - module.base < module.size)
      return fmt::format("{}+0x{:x}", module.name, address - module.base);
  if (address >= kShimBase && address < kShimBase + kShimSlots * kShimSlotBytes) {
    const size_t slot = (address - kShimBase) / kShimSlotBytes;
    if (slot < imports_.size()) return fmt::format("shim {}!{}", imports_[slot].dll, imports_[slot].function);
  }
  return "";
}

std::string Machine::describeAddress(uint64_t address) const {
  const std::string symbol = symbolize(address);
  return symbol.empty() ? fmt::format("0x{:x}", address) : fmt::format("0x{:x} ({})", address, symbol);
}

Result<uint64_t> Machine::bindImport(std::string_view dll, std::string_view function) {
  for (size_t i = 0; i < imports_.size(); ++i)
    if (imports_[i].dll == dll && imports_[i].function == function) return kShimBase + i * kShimSlotBytes;
  if (imports_.size() == kShimSlots) return badInput(fmt::format("more than {} distinct imports", kShimSlots));
  const uint64_t stub = kShimBase + imports_.size() * kShimSlotBytes;
  imports_.push_back({std::string(dll), std::string(function), findShim(dll, function)});
  if (!writeCode(stub, arch_.returnInstruction())) return internalError("cannot write shim stub");
  return stub;
}

std::vector<Machine::BoundImport> Machine::boundImports() const {
  std::vector<BoundImport> bound;
  for (size_t i = 0; i < imports_.size(); ++i)
    bound.push_back({kShimBase + i * kShimSlotBytes, imports_[i].dll, imports_[i].function});
  return bound;
}

Result<CallResult> Machine::call(uint64_t entry, std::span<const uint64_t> args, const CallOptions& options) {
  if (args.size() > kMaxCallArgs)
    return badInput(fmt::format("{} arguments given; at most {} are supported", args.size(), kMaxCallArgs));
  if (!options.stackTop) callStackUsed_ = true;
  const CallFrame frame{entry, args, options.stackTop.value_or(kStackBase + kStackBytes), kReturnSentinel};
  if (auto prepared = arch_.prepareCall(engine_, frame); !prepared) return prepared.error();

  const bool wasPrecise = preciseHook_ != 0;
  if (options.precisePc) setPrecisePc(true);
  std::optional<RunWatchdog::Clock::time_point> deadline;
  if (!countingInstructions())
    deadline = RunWatchdog::Clock::now() +
               std::chrono::duration_cast<RunWatchdog::Clock::duration>(std::chrono::duration<double>(
                   static_cast<double>(options.instructionBudget) / RunWatchdog::kMaxInstructionsPerSecond));
  const RunStop stop = run(options.instructionBudget, deadline);
  setPrecisePc(wasPrecise);

  CallResult result;
  result.instructions = stop.instructions;
  switch (stop.kind) {
  case StopKind::kReturned: result.value = arch_.returnValue(engine_); return result;
  case StopKind::kFault: result.fault = stop.fault; return result;
  case StopKind::kError: return *stop.error;
  case StopKind::kTimeout: result.timedOut = true; return result;
  case StopKind::kBlocked:
  case StopKind::kYielded: break;
  }
  return internalError("a single call stopped for a scheduler that is not there");
}

RunStop Machine::run(uint64_t budget, std::optional<RunWatchdog::Clock::time_point> deadline) {
  if (renewalFailed_) return RunStop{.kind = StopKind::kError, .error = renewalFailed_};
  budget_ = budget;
  budgetStopPc_.reset();
  executedThisRun_ = 0;
  stopKind_.reset();
  fault_.reset();
  error_.reset();
  memoryFault_.reset();
  const bool watched = deadline && !countingInstructions();
  const uint64_t runId = watched ? watchdog_->arm(*deadline) : 0;
  const Result<uc_err> started = engine_.start(engine_.reg(arch_.pcRegister()), kReturnSentinel);
  if (!started) {
    if (watched) watchdog_->disarm(runId);
    return RunStop{.kind = StopKind::kError, .error = started.error()};
  }
  const uc_err err = *started;
  const bool timedOut = watched && watchdog_->disarm(runId);
  RunStop stop;
  stop.instructions = executedThisRun_;
  if (timedOut) {
    stop.kind = StopKind::kTimeout;
    return stop;
  }
  if (stopKind_) {
    stop.kind = *stopKind_;
    stop.fault = std::move(fault_);
    stop.error = std::move(error_);
    return stop;
  }
  const uint64_t pc = engine_.reg(arch_.pcRegister());
  if (err != UC_ERR_OK) {
    stop.kind = StopKind::kFault;
    if (memoryFault_) {
      // Inside the hook Unicorn's PC is still the block's start; once the engine has
      // unwound the fault, QEMU has restored the precise PC of the faulting instruction
      // (when a code hook covers it: see CallOptions::precisePc).
      stop.fault = faultAt(memoryFault_->kind, pc, memoryFault_->address, "");
    } else if (err == UC_ERR_INSN_INVALID) {
      stop.fault = faultAt(FaultKind::kInvalidInstruction, pc, 0, "");
    } else {
      stop.fault = faultAt(FaultKind::kException, pc, 0, ucErrorText(err));
    }
    return stop;
  }
  if (pc != kReturnSentinel && engine_.untranslatableAt(pc)) {
    // The engine stopped before a word Unicorn cannot translate (Engine's guard): an
    // undefined instruction, which is what hardware makes of it.
    stop.kind = StopKind::kFault;
    stop.fault = faultAt(FaultKind::kInvalidInstruction, pc, 0,
                         "an invalid encoding Unicorn 2.0.1 cannot translate (hph stops before it)");
    return stop;
  }
  if (pc != kReturnSentinel) {
    if (watchdog_ && !countingInstructions()) {
      stop.kind = StopKind::kTimeout;  // the watchdog's stop meant for the previous run
      return stop;
    }
    stop.kind = StopKind::kError;
    stop.error = internalError(fmt::format("engine stopped at 0x{:x} for no reason", pc));
  }
  return stop;
}

void Machine::stopWith(StopKind kind) {
  stopKind_ = kind;
  uc_emu_stop(engine_.get());
}

void Machine::uncountFrom(uint64_t pc) {
  // The block hook charged the whole block on entry; what follows pc did not run now and
  // is charged again when the thread resumes there.
  if (!countingInstructions() || pc < lastBlock_.begin || pc >= lastBlock_.end) return;
  std::span<const uint8_t> rest = memory_.view(pc, lastBlock_.end - pc);
  const uint32_t count = rest.empty() ? 0 : arch_.countInstructions(rest);
  executedThisRun_ -= std::min<uint64_t>(count, executedThisRun_);
  instructionsRetired_ -= std::min<uint64_t>(count, instructionsRetired_);
}

uint32_t Machine::instructionsInBlock(uint64_t address, uint32_t size) {
  BlockCount& slot = blockCounts_[(address ^ (address >> 13)) & (kBlockCountCacheSize - 1)];
  if (slot.address == address && slot.size == size && slot.generation == blockGeneration_) return slot.count;
  std::span<const uint8_t> bytes = memory_.view(address, size);
  const uint32_t count = bytes.empty() ? 1 : arch_.countInstructions(bytes);
  slot = {address, size, count, blockGeneration_};
  return count;
}

std::string Machine::disassembleAt(uint64_t pc) const {
  uint8_t bytes[16] = {};
  size_t length = sizeof bytes;
  // Read as much as is mapped (the instruction may sit at the end of a region).
  while (length > 0 && !engine_.read(pc, {bytes, length})) --length;
  if (length == 0) return "";
  return arch_.decode({bytes, length}, pc).text;
}

GuestFault Machine::faultAt(FaultKind kind, uint64_t pc, uint64_t address, std::string detail) const {
  GuestFault fault;
  fault.kind = kind;
  fault.pc = pc;
  fault.address = address;
  fault.location = symbolize(pc);
  fault.instruction = disassembleAt(pc);
  fault.detail = std::move(detail);
  return fault;
}

}  // namespace hph
