#include "emu/x64/X64Arch.h"

#include "emu/x64/ResultLiveness.h"
#include "emu/x64/UntranslatableBytes.h"
#include "emu/x64/ZydisDecoder.h"

#include <Zydis/Zydis.h>
#include <fmt/format.h>

#include <array>

namespace hph {
namespace {

// Windows hotpatching needs room for `e9 rel32` in the padding before the function.
constexpr uint32_t kHotpatchPaddingBytes = 5;
// ...and a first instruction the 2-byte `eb f9` replaces whole.
constexpr uint32_t kHotpatchFirstInstructionBytes = 2;

// Win64: the first four integer arguments in registers, the rest on the stack above
// a 32-byte home area that the caller reserves.
constexpr std::array<int, 4> kArgumentRegisters = {UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_R8, UC_X86_REG_R9};
constexpr uint64_t kHomeAreaBytes = 32;
constexpr uint8_t kRet[] = {0xC3};

using x64::decoder;

const ZydisFormatter& formatter() {
  static const ZydisFormatter instance = [] {
    ZydisFormatter f;
    ZydisFormatterInit(&f, ZYDIS_FORMATTER_STYLE_INTEL);
    return f;
  }();
  return instance;
}

}  // namespace

Result<Engine> X64Arch::openEngine() const {
  uc_engine* uc = nullptr;
  if (uc_err err = uc_open(UC_ARCH_X86, UC_MODE_64, &uc); err != UC_ERR_OK)
    // Out of memory opening an engine is the machine's limit, not a bug (exit 2, not 3).
    return Error{err == UC_ERR_NOMEM ? Status::kResource : Status::kInternal, "uc_open(x64): " + ucErrorText(err)};
  Engine engine(uc);
  // Unicorn 2.0.1 aborts the process translating `ff /3` and `ff /5` with a register
  // operand: the engine stops before them, and the run reports an invalid instruction.
  engine.guardTranslation(&x64::findUntranslatable);
  return engine;
}

std::span<const StateRegister> X64Arch::stateRegisters() const {
  // CF PF AF ZF SF DF OF: what code can set and test without trapping.
  constexpr uint64_t kFlags = 0x0ED5;
  static const StateRegister kRegisters[] = {
      {UC_X86_REG_RAX, "rax"},         {UC_X86_REG_RBX, "rbx"},
      {UC_X86_REG_RCX, "rcx"},         {UC_X86_REG_RDX, "rdx"},
      {UC_X86_REG_RSI, "rsi"},         {UC_X86_REG_RDI, "rdi"},
      {UC_X86_REG_RBP, "rbp"},         {UC_X86_REG_R8, "r8"},
      {UC_X86_REG_R9, "r9"},           {UC_X86_REG_R10, "r10"},
      {UC_X86_REG_R11, "r11"},         {UC_X86_REG_R12, "r12"},
      {UC_X86_REG_R13, "r13"},         {UC_X86_REG_R14, "r14"},
      {UC_X86_REG_R15, "r15"},         {UC_X86_REG_EFLAGS, "rflags", 8, kFlags, 0x2},  // bit 1: reserved, reads as 1
      {UC_X86_REG_XMM0, "xmm0", 16},   {UC_X86_REG_XMM1, "xmm1", 16},
      {UC_X86_REG_XMM2, "xmm2", 16},   {UC_X86_REG_XMM3, "xmm3", 16},
      {UC_X86_REG_XMM4, "xmm4", 16},   {UC_X86_REG_XMM5, "xmm5", 16},
      {UC_X86_REG_XMM6, "xmm6", 16},   {UC_X86_REG_XMM7, "xmm7", 16},
      {UC_X86_REG_XMM8, "xmm8", 16},   {UC_X86_REG_XMM9, "xmm9", 16},
      {UC_X86_REG_XMM10, "xmm10", 16}, {UC_X86_REG_XMM11, "xmm11", 16},
      {UC_X86_REG_XMM12, "xmm12", 16}, {UC_X86_REG_XMM13, "xmm13", 16},
      {UC_X86_REG_XMM14, "xmm14", 16}, {UC_X86_REG_XMM15, "xmm15", 16},
  };
  return kRegisters;
}

std::span<const StateRegister> X64Arch::entryStateRegisters() const {
  // Win64: arguments rcx, rdx, r8, r9, xmm0-3; callee-saved rbx, rbp, rsi, rdi, r12-r15, xmm6-15.
  static const StateRegister kRegisters[] = {
      {UC_X86_REG_RCX, "rcx"},         {UC_X86_REG_RDX, "rdx"},         {UC_X86_REG_R8, "r8"},
      {UC_X86_REG_R9, "r9"},           {UC_X86_REG_RBX, "rbx"},         {UC_X86_REG_RBP, "rbp"},
      {UC_X86_REG_RSI, "rsi"},         {UC_X86_REG_RDI, "rdi"},         {UC_X86_REG_R12, "r12"},
      {UC_X86_REG_R13, "r13"},         {UC_X86_REG_R14, "r14"},         {UC_X86_REG_R15, "r15"},
      {UC_X86_REG_XMM0, "xmm0", 16},   {UC_X86_REG_XMM1, "xmm1", 16},   {UC_X86_REG_XMM2, "xmm2", 16},
      {UC_X86_REG_XMM3, "xmm3", 16},   {UC_X86_REG_XMM6, "xmm6", 16},   {UC_X86_REG_XMM7, "xmm7", 16},
      {UC_X86_REG_XMM8, "xmm8", 16},   {UC_X86_REG_XMM9, "xmm9", 16},   {UC_X86_REG_XMM10, "xmm10", 16},
      {UC_X86_REG_XMM11, "xmm11", 16}, {UC_X86_REG_XMM12, "xmm12", 16}, {UC_X86_REG_XMM13, "xmm13", 16},
      {UC_X86_REG_XMM14, "xmm14", 16}, {UC_X86_REG_XMM15, "xmm15", 16},
  };
  return kRegisters;
}

const ArchFacts& X64Arch::facts() const {
  static const ArchFacts kFacts = {
      .fixedInstructionBytes = 0,  // 1 to 15 bytes
      .paddingProbeBytes = 2,      // int3 int3: one alone may be a __debugbreak()
      .runtimeFunctionFormat = RuntimeFunctionFormat::kBeginEndUnwindInfo,
      .singleByteBreakpoint = SingleByteBreakpoint{0xCC, 3},  // int3, #BP
      .undefinedInstructionInterrupt = 6,                     // #UD
      .returnAddressStackBytes = 8,                           // call pushes it, ret pops it
      .linkRegister = std::nullopt,
      .integerArgumentRegisters = static_cast<uint32_t>(kArgumentRegisters.size()),
      // Stores to code are seen by instruction fetch (the caches snoop): no maintenance.
      .fetchCoherentWithStores = true,
      .concurrentModificationRestricted = false,
      .contextSynchronizingInstruction = {},
  };
  return kFacts;
}

int X64Arch::pcRegister() const { return UC_X86_REG_RIP; }
int X64Arch::spRegister() const { return UC_X86_REG_RSP; }

Result<void> X64Arch::prepareCall(const Engine& engine, const CallFrame& frame) const {
  if (frame.args.size() > kMaxCallArgs) return badInput("too many arguments");
  // Layout at entry: [rsp] return address, [rsp+8..+0x28) home area, then stack args.
  const uint64_t callSiteSp = ((frame.stackTop - 0x100) & ~uint64_t{15});
  for (size_t i = kArgumentRegisters.size(); i < frame.args.size(); ++i) {
    const uint64_t slot = callSiteSp + kHomeAreaBytes + 8 * (i - kArgumentRegisters.size());
    const uint64_t value = frame.args[i];
    if (!engine.write(slot, {reinterpret_cast<const uint8_t*>(&value), 8}))
      return internalError("cannot write stack argument");
  }
  const uint64_t entrySp = callSiteSp - 8;
  if (!engine.write(entrySp, {reinterpret_cast<const uint8_t*>(&frame.returnAddress), 8}))
    return internalError("cannot write return address");
  for (size_t i = 0; i < kArgumentRegisters.size(); ++i)
    engine.setReg(kArgumentRegisters[i], i < frame.args.size() ? frame.args[i] : 0);
  engine.setReg(UC_X86_REG_RSP, entrySp);
  engine.setReg(UC_X86_REG_RIP, frame.entry);
  return {};
}

uint64_t X64Arch::returnValue(const Engine& engine) const { return engine.reg(UC_X86_REG_RAX); }

uint64_t X64Arch::argument(const Engine& engine, size_t index) const {
  if (index < kArgumentRegisters.size()) return engine.reg(kArgumentRegisters[index]);
  // Inside a shim stub the return address is at [rsp]; stack arguments follow the home area.
  uint64_t value = 0;
  const uint64_t slot = engine.reg(UC_X86_REG_RSP) + 8 + kHomeAreaBytes + 8 * (index - kArgumentRegisters.size());
  engine.read(slot, {reinterpret_cast<uint8_t*>(&value), 8});
  return value;
}

uint64_t X64Arch::returnAddress(const Engine& engine) const {
  uint64_t value = 0;
  engine.read(engine.reg(UC_X86_REG_RSP), {reinterpret_cast<uint8_t*>(&value), 8});
  return value;
}

void X64Arch::setReturnValue(const Engine& engine, uint64_t value) const { engine.setReg(UC_X86_REG_RAX, value); }

void X64Arch::setThreadPointer(const Engine& engine, uint64_t teb) const { engine.setReg(UC_X86_REG_GS_BASE, teb); }

std::span<const uint8_t> X64Arch::returnInstruction() const { return kRet; }

namespace {

// Control flow and RIP-relative reads of a decoded instruction.
void describeFlow(const ZydisDecodedInstruction& instruction, const ZydisDecodedOperand* operands, uint64_t address,
                  DecodedInstruction& out) {
  ZyanU64 absolute = 0;
  bool direct = false;
  for (uint8_t i = 0; i < instruction.operand_count_visible; ++i) {
    const ZydisDecodedOperand& op = operands[i];
    if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op.imm.is_relative &&
        ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&instruction, &op, address, &absolute))) {
      direct = true;
      out.target = absolute;
    }
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.base == ZYDIS_REGISTER_RIP &&
        op.mem.type == ZYDIS_MEMOP_TYPE_MEM &&
        ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&instruction, &op, address, &absolute))) {
      out.dataRead = absolute;
      out.dataReadBytes = op.size / 8;
    }
  }
  switch (instruction.meta.category) {
  case ZYDIS_CATEGORY_UNCOND_BR: out.flow = direct ? Flow::kJump : Flow::kEnd; break;
  case ZYDIS_CATEGORY_COND_BR: out.flow = Flow::kConditional; break;
  case ZYDIS_CATEGORY_CALL: out.flow = direct ? Flow::kCall : Flow::kNext; break;
  case ZYDIS_CATEGORY_RET:
  case ZYDIS_CATEGORY_INTERRUPT:
  case ZYDIS_CATEGORY_SYSTEM: out.flow = Flow::kEnd; break;
  default: out.flow = instruction.mnemonic == ZYDIS_MNEMONIC_UD2 ? Flow::kEnd : Flow::kNext;
  }
}

}  // namespace

DecodedInstruction X64Arch::decode(std::span<const uint8_t> bytes, uint64_t address) const {
  ZydisDecodedInstruction instruction;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  DecodedInstruction out;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), bytes.data(), bytes.size(), &instruction, operands))) {
    out.text = bytes.empty() ? "(no bytes)" : fmt::format(".byte 0x{:02x}", bytes[0]);
    return out;
  }
  char text[256];
  ZydisFormatterFormatInstruction(&formatter(), &instruction, operands, instruction.operand_count_visible, text,
                                  sizeof text, address, ZYAN_NULL);
  out.valid = true;
  out.length = instruction.length;
  out.text = text;
  describeFlow(instruction, operands, address, out);
  return out;
}

namespace {

// A 64-bit general register as Unicorn names it (0: not a general register).
int unicornGpr(ZydisRegister reg) {
  static constexpr std::pair<ZydisRegister, int> kMap[] = {
      {ZYDIS_REGISTER_RAX, UC_X86_REG_RAX}, {ZYDIS_REGISTER_RCX, UC_X86_REG_RCX}, {ZYDIS_REGISTER_RDX, UC_X86_REG_RDX},
      {ZYDIS_REGISTER_RBX, UC_X86_REG_RBX}, {ZYDIS_REGISTER_RSP, UC_X86_REG_RSP}, {ZYDIS_REGISTER_RBP, UC_X86_REG_RBP},
      {ZYDIS_REGISTER_RSI, UC_X86_REG_RSI}, {ZYDIS_REGISTER_RDI, UC_X86_REG_RDI}, {ZYDIS_REGISTER_R8, UC_X86_REG_R8},
      {ZYDIS_REGISTER_R9, UC_X86_REG_R9},   {ZYDIS_REGISTER_R10, UC_X86_REG_R10}, {ZYDIS_REGISTER_R11, UC_X86_REG_R11},
      {ZYDIS_REGISTER_R12, UC_X86_REG_R12}, {ZYDIS_REGISTER_R13, UC_X86_REG_R13}, {ZYDIS_REGISTER_R14, UC_X86_REG_R14},
      {ZYDIS_REGISTER_R15, UC_X86_REG_R15}};
  const ZydisRegister wide = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
  for (const auto& [zydis, unicorn] : kMap)
    if (zydis == wide) return unicorn;
  return 0;
}

// Where a memory operand points with the engine's registers, when other threads could
// reach it: fs:/gs: (the TEB) are per thread, and a vector-indexed operand (gather,
// scatter) is no plain access.
std::optional<uint64_t> sharedAddress(const Engine& engine, const ZydisDecodedInstruction& instruction,
                                      const ZydisDecodedOperand& op, uint64_t pc) {
  if (op.mem.segment == ZYDIS_REGISTER_FS || op.mem.segment == ZYDIS_REGISTER_GS) return std::nullopt;
  uint64_t address = static_cast<uint64_t>(op.mem.disp.value);
  if (op.mem.base == ZYDIS_REGISTER_RIP || op.mem.base == ZYDIS_REGISTER_EIP) {
    address += pc + instruction.length;
  } else if (op.mem.base != ZYDIS_REGISTER_NONE) {
    const int base = unicornGpr(op.mem.base);
    if (!base) return std::nullopt;
    address += engine.reg(base);
  }
  if (op.mem.index != ZYDIS_REGISTER_NONE) {
    const int index = unicornGpr(op.mem.index);
    if (!index) return std::nullopt;
    address += engine.reg(index) * op.mem.scale;
  }
  if (instruction.address_width == 32) address &= 0xFFFFFFFFu;
  return address;
}

bool isLockedAdd(const ZydisDecodedInstruction& instruction, const ZydisDecodedOperand* operands) {
  switch (instruction.mnemonic) {
  case ZYDIS_MNEMONIC_ADD:
  case ZYDIS_MNEMONIC_SUB:
  case ZYDIS_MNEMONIC_INC:
  case ZYDIS_MNEMONIC_DEC:
  case ZYDIS_MNEMONIC_XADD: break;
  default: return false;
  }
  return (instruction.attributes & ZYDIS_ATTRIB_HAS_LOCK) && instruction.operand_count_visible >= 1 &&
         operands[0].type == ZYDIS_OPERAND_TYPE_MEMORY && operands[0].mem.type == ZYDIS_MEMOP_TYPE_MEM &&
         operands[0].size == 64;
}

}  // namespace

std::optional<AtomicAdd> X64Arch::atomicAdd(const Engine& engine, std::span<const uint8_t> code, uint64_t pc) const {
  ZydisDecodedInstruction instruction;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), code.data(), code.size(), &instruction, operands)) ||
      !isLockedAdd(instruction, operands))
    return std::nullopt;
  const std::optional<uint64_t> address = sharedAddress(engine, instruction, operands[0], pc);
  if (!address || *address % 8) return std::nullopt;
  return AtomicAdd{.address = *address, .begin = pc, .end = pc + instruction.length};
}

bool X64Arch::atomicAddUnobserved(std::span<const uint8_t> code, uint64_t pc, const WalkRegisters& at,
                                  const GuestRead& read, const CodeChanges& willChange) const {
  ZydisDecodedInstruction instruction;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), code.data(), code.size(), &instruction, operands)) ||
      !isLockedAdd(instruction, operands))
    return false;
  const x64::Results results =
      x64::writtenResults(instruction, std::span<const ZydisDecodedOperand>(operands, instruction.operand_count));
  return x64::resultsUnobserved(results, pc + instruction.length, at.sp, read, willChange);
}

std::optional<SplittableAccess> X64Arch::splittableAccess(const Engine& engine, std::span<const uint8_t> bytes,
                                                          uint64_t pc) const {
  ZydisDecodedInstruction instruction;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), bytes.data(), bytes.size(), &instruction, operands)))
    return std::nullopt;
  // LOCK makes the access indivisible; XCHG with memory asserts it without the prefix.
  if ((instruction.attributes & ZYDIS_ATTRIB_HAS_LOCK) || instruction.mnemonic == ZYDIS_MNEMONIC_XCHG)
    return std::nullopt;
  // bts/btr/btc [m], reg address the bit reg past the operand (base + reg / 8): the bytes
  // they change are not the operand Zydis reports. Left indivisible (not modelled).
  const bool bitTest = instruction.mnemonic == ZYDIS_MNEMONIC_BTS || instruction.mnemonic == ZYDIS_MNEMONIC_BTR ||
                       instruction.mnemonic == ZYDIS_MNEMONIC_BTC;
  if (bitTest && instruction.operand_count_visible > 1 && operands[1].type == ZYDIS_OPERAND_TYPE_REGISTER)
    return std::nullopt;
  for (uint8_t i = 0; i < instruction.operand_count_visible; ++i) {
    const ZydisDecodedOperand& op = operands[i];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY || op.mem.type != ZYDIS_MEMOP_TYPE_MEM) continue;
    if (!(op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) || !(op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
    const std::optional<uint64_t> address = sharedAddress(engine, instruction, op, pc);
    if (!address || op.size == 0 || op.size % 8) return std::nullopt;
    return SplittableAccess{*address, static_cast<uint32_t>(op.size / 8)};
  }
  return std::nullopt;
}

std::optional<RegisterOnlyInstruction> X64Arch::registerOnly(std::span<const uint8_t> bytes, uint64_t pc) const {
  ZydisDecodedInstruction instruction;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), bytes.data(), bytes.size(), &instruction, operands)))
    return std::nullopt;
  // Integer and flag work, moves between registers and branches only: calls, returns,
  // pushes and string instructions reach memory through hidden operands, and system,
  // interrupt and vector instructions are left visible.
  switch (instruction.meta.category) {
  case ZYDIS_CATEGORY_MISC:
    if (instruction.mnemonic != ZYDIS_MNEMONIC_LEA) return std::nullopt;
    break;
  case ZYDIS_CATEGORY_BINARY:
  case ZYDIS_CATEGORY_LOGICAL:
  case ZYDIS_CATEGORY_DATAXFER:
  case ZYDIS_CATEGORY_NOP:
  case ZYDIS_CATEGORY_WIDENOP:
  case ZYDIS_CATEGORY_SHIFT:
  case ZYDIS_CATEGORY_ROTATE:
  case ZYDIS_CATEGORY_BITBYTE:
  case ZYDIS_CATEGORY_SETCC:
  case ZYDIS_CATEGORY_CMOV:
  case ZYDIS_CATEGORY_CONVERT:
  case ZYDIS_CATEGORY_FLAGOP:
  case ZYDIS_CATEGORY_UNCOND_BR:
  case ZYDIS_CATEGORY_COND_BR: break;
  default: return std::nullopt;
  }
  if (instruction.attributes & ZYDIS_ATTRIB_HAS_LOCK) return std::nullopt;
  const bool addressOnly = instruction.mnemonic == ZYDIS_MNEMONIC_LEA || instruction.mnemonic == ZYDIS_MNEMONIC_NOP;
  for (uint8_t i = 0; i < instruction.operand_count; ++i) {
    const ZydisDecodedOperand& op = operands[i];
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && !addressOnly) return std::nullopt;
    // The stack pointer says where return addresses are (PC moves and release read them).
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
        ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, op.reg.value) == ZYDIS_REGISTER_RSP)
      return std::nullopt;
  }
  const uint64_t next = pc + instruction.length;
  if (instruction.meta.category != ZYDIS_CATEGORY_UNCOND_BR && instruction.meta.category != ZYDIS_CATEGORY_COND_BR)
    return RegisterOnlyInstruction{.next = next};
  const ZydisDecodedOperand& destination = operands[0];
  if (destination.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !destination.imm.is_relative)
    return RegisterOnlyInstruction{.indirect = true};
  const uint64_t target = next + static_cast<uint64_t>(destination.imm.value.s);
  if (instruction.meta.category == ZYDIS_CATEGORY_UNCOND_BR) return RegisterOnlyInstruction{.target = target};
  return RegisterOnlyInstruction{.next = next, .target = target};
}

uint32_t X64Arch::countInstructions(std::span<const uint8_t> block) const {
  uint32_t count = 0;
  ZydisDecoderContext context;
  ZydisDecodedInstruction instruction;
  size_t offset = 0;
  while (offset < block.size()) {
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder(), &context, block.data() + offset, block.size() - offset,
                                                    &instruction)))
      return count + 1;  // Unicorn ends blocks at undecodable bytes; count it once.
    offset += instruction.length;
    ++count;
  }
  return count;
}

std::string X64Arch::describeInterrupt(uint32_t number) const {
  switch (number) {
  case 0: return "#DE divide error";
  case 1: return "#DB debug exception";
  case 3: return "#BP breakpoint (int3)";
  case 4: return "#OF overflow";
  case 6: return "#UD invalid opcode";
  case 13: return "#GP general protection";
  case 14: return "#PF page fault";
  default: return fmt::format("interrupt {}", number);
  }
}

bool X64Arch::isPadding(std::span<const uint8_t> bytes) const {
  for (uint8_t b : bytes)
    if (b != 0xCC && b != 0x90) return false;
  return !bytes.empty();
}

EntryPatchability X64Arch::entryPatchability(std::span<const uint8_t> before, std::span<const uint8_t> entry,
                                             uint64_t entryAddress) const {
  EntryPatchability out;
  const DecodedInstruction first = decode(entry, entryAddress);
  out.firstInstruction = first.text;
  out.firstInstructionLength = first.length;
  while (out.paddingBefore < before.size() && isPadding(before.subspan(before.size() - out.paddingBefore - 1, 1)))
    ++out.paddingBefore;
  if (!first.valid)
    out.reason = "first instruction does not decode";
  else if (first.length < kHotpatchFirstInstructionBytes)
    out.reason = fmt::format("first instruction '{}' is {} byte; the 2-byte jump needs >= {}", first.text, first.length,
                             kHotpatchFirstInstructionBytes);
  else if (out.paddingBefore < kHotpatchPaddingBytes)
    out.reason = fmt::format("{} bytes of padding before the entry; the 5-byte jump needs >= {}", out.paddingBefore,
                             kHotpatchPaddingBytes);
  out.hotpatchable = out.reason.empty();
  return out;
}

namespace x64 {
const ZydisDecoder& decoder() {
  static const ZydisDecoder instance = [] {
    ZydisDecoder d;
    ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    return d;
  }();
  return instance;
}
}  // namespace x64

const Arch& x64Arch() {
  static const X64Arch instance;
  return instance;
}

}  // namespace hph
