// The Unicorn hooks of a Machine: how guest execution reaches the budget, the shims, the
// observer's scheduling points and data footprints, faults and interrupts. Kept apart from
// Machine.cpp (memory, snapshots, calls) because this is the hot path of every schedule.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "emu/core/Machine.h"

namespace hph {

void Machine::onBlock(uc_engine*, uint64_t address, uint32_t size, void* user) {
  auto* self = static_cast<Machine*>(user);
  const uint32_t count = self->instructionsInBlock(address, size);
  if (self->executedThisRun_ + count > self->budget_ && self->preciseHook_ && self->budget_ > self->executedThisRun_) {
    // Exact PCs promised (hph call): run the part of the block the budget covers and let
    // the code hook stop before the first instruction it does not.
    const uint64_t remaining = self->budget_ - self->executedThisRun_;
    std::span<const uint8_t> bytes = self->memory_.view(address, size);
    uint64_t pc = address, offset = 0;
    for (uint64_t i = 0; i < remaining && offset < bytes.size(); ++i) {
      const DecodedInstruction insn = self->arch_.decode(bytes.subspan(offset), pc);
      if (!insn.valid || insn.length == 0) {
        offset = bytes.size();
        break;
      }
      offset += insn.length;
      pc += insn.length;
    }
    if (offset < bytes.size()) {
      self->budgetStopPc_ = pc;
      self->executedThisRun_ += remaining;
      self->instructionsRetired_ += remaining;
      self->lastBlock_ = {address, address + size};
      return;
    }
  }
  if (self->executedThisRun_ + count > self->budget_) {
    self->fault_ =
        self->faultAt(FaultKind::kBudgetExhausted, address, 0, fmt::format("budget of {} instructions", self->budget_));
    self->stopWith(StopKind::kFault);
    return;
  }
  self->executedThisRun_ += count;
  self->instructionsRetired_ += count;
  self->lastBlock_ = {address, address + size};
}

void Machine::onEveryInstruction(uc_engine*, uint64_t address, uint32_t, void* user) {
  auto* self = static_cast<Machine*>(user);
  if (!self->budgetStopPc_ || *self->budgetStopPc_ != address) return;
  self->budgetStopPc_.reset();
  self->fault_ =
      self->faultAt(FaultKind::kBudgetExhausted, address, 0, fmt::format("budget of {} instructions", self->budget_));
  self->stopWith(StopKind::kFault);
}

void Machine::onShim(uc_engine*, uint64_t address, uint32_t, void* user) {
  auto* self = static_cast<Machine*>(user);
  const size_t slot = (address - kShimBase) / kShimSlotBytes;
  if ((address - kShimBase) % kShimSlotBytes != 0) return;  // the stub's own `ret`
  // A stop already requested here means the stub does not run now; the shim runs when
  // the thread resumes (running it twice would create two threads for one CreateThread).
  if (self->stopKind_) return;
  if (slot >= self->imports_.size()) {
    self->fault_ =
        self->faultAt(FaultKind::kUnmappedFetch, address, address, "jump into the shim area outside any stub");
    self->stopWith(StopKind::kFault);
    return;
  }
  const ImportBinding& binding = self->imports_[slot];
  if (!binding.shim) {
    // Exit 2 names the file: the image whose code made the call (else the first loaded).
    const uint64_t caller = self->arch_.returnAddress(self->engine_);
    std::string file = self->modules_.empty() ? std::string() : self->modules_.front().path;
    for (const LoadedModule& module : self->modules_)
      if (caller >= module.base && caller - module.base < module.size) file = module.path;
    self->error_ =
        Error{Status::kUnresolvedImport,
              fmt::format("{}{}import {}!{}: no shim provides it (see docs/shims.md); called from {}", file,
                          file.empty() ? "" : ": ", binding.dll, binding.function, self->describeAddress(caller))};
    self->stopWith(StopKind::kError);
    return;
  }
  ShimCall call{*self};
  ++self->shimCalls_;
  if (self->observer_) self->observer_->onShimCall();
  const ShimResult result = binding.shim->handler(call);
  if (result.blocks) {
    self->uncountFrom(address);
    self->stopWith(StopKind::kBlocked);  // before the stub's `ret`: it runs again on resume
    return;
  }
  self->arch_.setReturnValue(self->engine_, result.value);
}

void Machine::onWatched(uc_engine*, uint64_t address, uint32_t size, void* user) {
  auto* self = static_cast<Machine*>(user);
  // Shim stubs are not scheduling points: a shim and its return are one step.
  if (address >= kShimBase && address < kShimBase + kShimSlots * kShimSlotBytes) return;
  if (self->observer_ && !self->stopKind_ && self->observer_->beforeInstruction(address, size)) {
    self->uncountFrom(address);
    self->stopWith(StopKind::kYielded);
  }
}

void Machine::onData(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t, void* user) {
  auto* self = static_cast<Machine*>(user);
  if (self->observer_) self->observer_->onDataAccess(address, static_cast<uint32_t>(size), type == UC_MEM_WRITE);
}

bool Machine::onMemoryFault(uc_engine*, uc_mem_type type, uint64_t address, int, int64_t, void* user) {
  auto* self = static_cast<Machine*>(user);
  FaultKind kind = FaultKind::kProtectionViolation;
  if (type == UC_MEM_READ_UNMAPPED) kind = FaultKind::kUnmappedRead;
  if (type == UC_MEM_WRITE_UNMAPPED) kind = FaultKind::kUnmappedWrite;
  if (type == UC_MEM_FETCH_UNMAPPED) kind = FaultKind::kUnmappedFetch;
  self->memoryFault_ = GuestFault{kind, 0, address, "", "", ""};
  return false;  // do not map anything: the access fails and the engine stops
}

void Machine::onInterrupt(uc_engine* uc, uint32_t number, void* user) {
  auto* self = static_cast<Machine*>(user);
  uint64_t pc = 0;
  uc_reg_read(uc, self->arch_.pcRegister(), &pc);
  const ArchFacts& facts = self->arch_.facts();
  if (facts.singleByteBreakpoint && number == facts.singleByteBreakpoint->interrupt && self->observer_) {
    // The PC is past the one-byte breakpoint; the observer may send the thread elsewhere.
    if (auto resume = self->observer_->onBreakpoint(pc - 1)) {
      self->engine_.setReg(self->arch_.pcRegister(), *resume);
      return;
    }
  }
  const bool undefined = number == facts.undefinedInstructionInterrupt;
  self->fault_ = self->faultAt(undefined ? FaultKind::kInvalidInstruction : FaultKind::kException, pc, 0,
                               self->arch_.describeInterrupt(number));
  self->stopWith(StopKind::kFault);
}

}  // namespace hph
