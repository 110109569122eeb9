#include "emu/core/Machine.h"

#include <fmt/format.h>

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
    : arch_(arch), engine_(std::move(engine)), memory_(arch.pageSize()),
      blockCounts_(kBlockCountCacheSize) {}

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
  return machine;
}

Result<void> Machine::installHooks() {
  uc_engine* uc = engine_.get();
  uc_hook hook;
  // Block hook over all memory: counts instructions and enforces the budget without
  // Unicorn's per-instruction counting hook (3.5x slower on x64, NOTES-deps).
  if (uc_hook_add(uc, &hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(&onBlock), this, 1, 0) ||
      uc_hook_add(uc, &hook, UC_HOOK_CODE, reinterpret_cast<void*>(&onShim), this, kShimBase,
                  kShimBase + kShimSlots * kShimSlotBytes - 1) ||
      uc_hook_add(uc, &hook,
                  UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED |
                      UC_HOOK_MEM_FETCH_UNMAPPED | UC_HOOK_MEM_READ_PROT |
                      UC_HOOK_MEM_WRITE_PROT | UC_HOOK_MEM_FETCH_PROT,
                  reinterpret_cast<void*>(&onMemoryFault), this, 1, 0) ||
      uc_hook_add(uc, &hook, UC_HOOK_INTR, reinterpret_cast<void*>(&onInterrupt), this, 1, 0))
    return internalError("cannot install Unicorn hooks");
  return {};
}

Result<Region*> Machine::map(uint64_t base, uint64_t size, uint32_t permissions,
                             std::string name) {
  auto region = memory_.add(base, size, permissions, std::move(name));
  if (!region) return region;
  Region* r = region.value();
  if (uc_err err = uc_mem_map_ptr(engine_.get(), r->base, r->size, ucPermissions(permissions),
                                  r->bytes.get());
      err != UC_ERR_OK)
    return internalError(fmt::format("cannot map {} at 0x{:x}: {}", r->name, r->base,
                                     ucErrorText(err)));
  return r;
}

bool Machine::readGuest(uint64_t address, std::span<uint8_t> out) const {
  return engine_.read(address, out);
}

bool Machine::writeGuest(uint64_t address, std::span<const uint8_t> bytes) const {
  return engine_.write(address, bytes);
}

bool Machine::writeCode(uint64_t address, std::span<const uint8_t> bytes) {
  if (!engine_.write(address, bytes)) return false;
  engine_.forgetCode(address, address + bytes.size());
  std::fill(blockCounts_.begin(), blockCounts_.end(), BlockCount{});
  return true;
}

std::string Machine::symbolize(uint64_t address) const {
  for (const LoadedModule& module : modules_)
    if (address >= module.base && address - module.base < module.size)
      return fmt::format("{}+0x{:x}", module.name, address - module.base);
  if (address >= kShimBase && address < kShimBase + kShimSlots * kShimSlotBytes) {
    const size_t slot = (address - kShimBase) / kShimSlotBytes;
    if (slot < imports_.size())
      return fmt::format("shim {}!{}", imports_[slot].dll, imports_[slot].function);
  }
  return "";
}

Result<uint64_t> Machine::bindImport(std::string_view dll, std::string_view function) {
  for (size_t i = 0; i < imports_.size(); ++i)
    if (imports_[i].dll == dll && imports_[i].function == function)
      return kShimBase + i * kShimSlotBytes;
  if (imports_.size() == kShimSlots)
    return badInput(fmt::format("more than {} distinct imports", kShimSlots));
  const uint64_t stub = kShimBase + imports_.size() * kShimSlotBytes;
  imports_.push_back({std::string(dll), std::string(function), findShim(dll, function)});
  if (!writeCode(stub, arch_.returnInstruction()))
    return internalError("cannot write shim stub");
  return stub;
}

Result<CallResult> Machine::call(uint64_t entry, std::span<const uint64_t> args,
                                 const CallOptions& options) {
  if (args.size() > kMaxCallArgs)
    return badInput(fmt::format("{} arguments given; at most {} are supported", args.size(),
                                kMaxCallArgs));
  const CallFrame frame{entry, args, kStackBase + kStackBytes, kReturnSentinel};
  if (auto prepared = arch_.prepareCall(engine_, frame); !prepared) return prepared.error();

  budget_ = options.instructionBudget;
  executedThisCall_ = 0;
  memoryFault_.reset();
  stop_ = {};
  uc_hook precise = 0;
  if (options.precisePc &&
      uc_hook_add(engine_.get(), &precise, UC_HOOK_CODE,
                  reinterpret_cast<void*>(&onEveryInstruction), this, 1, 0) != UC_ERR_OK)
    return internalError("cannot install the precise-PC code hook");
  const uc_err err = uc_emu_start(engine_.get(), entry, kReturnSentinel, 0, 0);
  if (precise) uc_hook_del(engine_.get(), precise);

  CallResult result;
  result.instructions = executedThisCall_;
  if (stop_.error) return *stop_.error;
  if (stop_.fault) {
    result.fault = stop_.fault;
    return result;
  }
  const uint64_t pc = engine_.reg(arch_.pcRegister());
  if (err != UC_ERR_OK) {
    if (memoryFault_) {
      // Inside the hook Unicorn's PC is still the block's start; once the engine has
      // unwound the fault, QEMU has restored the precise PC of the faulting instruction.
      result.fault = faultAt(memoryFault_->kind, pc, memoryFault_->address, "");
    } else if (err == UC_ERR_INSN_INVALID) {
      result.fault = faultAt(FaultKind::kInvalidInstruction, pc, 0, "");
    } else {
      result.fault = faultAt(FaultKind::kException, pc, 0, ucErrorText(err));
    }
    return result;
  }
  if (pc != kReturnSentinel)
    return internalError(fmt::format("engine stopped at 0x{:x} for no reason", pc));
  result.value = arch_.returnValue(engine_);
  return result;
}

uint32_t Machine::instructionsInBlock(uint64_t address, uint32_t size) {
  BlockCount& slot = blockCounts_[(address ^ (address >> 13)) & (kBlockCountCacheSize - 1)];
  if (slot.address == address && slot.size == size) return slot.count;
  uint32_t count = 0;
  std::span<const uint8_t> bytes = memory_.view(address, size);
  if (bytes.empty()) {
    count = arch_.kind() == ArchKind::kArm64 ? (size + 3) / 4 : 1;
  } else {
    count = arch_.countInstructions(bytes);
  }
  slot = {address, size, count};
  return count;
}

std::string Machine::describeAddress(uint64_t address) const {
  const std::string symbol = symbolize(address);
  return symbol.empty() ? fmt::format("0x{:x}", address) : fmt::format("0x{:x} ({})", address, symbol);
}

std::string Machine::disassembleAt(uint64_t pc) const {
  uint8_t bytes[16] = {};
  size_t length = sizeof bytes;
  // Read as much as is mapped (the instruction may sit at the end of a region).
  while (length > 0 && !engine_.read(pc, {bytes, length})) --length;
  if (length == 0) return "";
  return arch_.decode({bytes, length}, pc).text;
}

GuestFault Machine::faultAt(FaultKind kind, uint64_t pc, uint64_t address,
                            std::string detail) const {
  GuestFault fault;
  fault.kind = kind;
  fault.pc = pc;
  fault.address = address;
  fault.location = symbolize(pc);
  fault.instruction = disassembleAt(pc);
  fault.detail = std::move(detail);
  return fault;
}

void Machine::onBlock(uc_engine* uc, uint64_t address, uint32_t size, void* user) {
  auto* self = static_cast<Machine*>(user);
  const uint32_t count = self->instructionsInBlock(address, size);
  if (self->executedThisCall_ + count > self->budget_) {
    self->stop_.fault = self->faultAt(FaultKind::kBudgetExhausted, address, 0,
                                      fmt::format("budget of {} instructions", self->budget_));
    uc_emu_stop(uc);
    return;
  }
  self->executedThisCall_ += count;
  self->instructionsRetired_ += count;
}

void Machine::onShim(uc_engine* uc, uint64_t address, uint32_t, void* user) {
  auto* self = static_cast<Machine*>(user);
  const size_t slot = (address - kShimBase) / kShimSlotBytes;
  if ((address - kShimBase) % kShimSlotBytes != 0) return;  // the stub's own `ret`
  if (slot >= self->imports_.size()) {
    self->stop_.fault = self->faultAt(FaultKind::kUnmappedFetch, address, address,
                                      "jump into the shim area outside any stub");
    uc_emu_stop(uc);
    return;
  }
  const ImportBinding& binding = self->imports_[slot];
  if (!binding.shim) {
    self->stop_.error = Error{
        Status::kUnresolvedImport,
        fmt::format("import {}!{}: no shim provides it (see docs/shims.md); called from {}",
                    binding.dll, binding.function,
                    self->describeAddress(self->arch_.returnAddress(self->engine_)))};
    uc_emu_stop(uc);
    return;
  }
  ShimCall call{*self};
  self->arch_.setReturnValue(self->engine_, binding.shim->handler(call));
}

bool Machine::onMemoryFault(uc_engine* uc, uc_mem_type type, uint64_t address, int, int64_t,
                            void* user) {
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
  const bool undefined = (self->arch_.kind() == ArchKind::kX64 && number == 6) ||
                         (self->arch_.kind() == ArchKind::kArm64 && number == 1);
  self->stop_.fault = self->faultAt(undefined ? FaultKind::kInvalidInstruction
                                              : FaultKind::kException,
                                    pc, 0, self->arch_.describeInterrupt(number));
  uc_emu_stop(uc);
}

}  // namespace hph
