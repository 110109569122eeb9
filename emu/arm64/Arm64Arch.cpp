#include "emu/arm64/Arm64Arch.h"

#include <capstone/capstone.h>
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "emu/arm64/Cmodx.h"
#include "emu/arm64/ExclusiveAdd.h"
#include "emu/arm64/InstructionEffects.h"
#include "emu/arm64/ResultLiveness.h"
#include "emu/arm64/UntranslatableWords.h"

namespace hph {
namespace {

constexpr uint8_t kRet[] = {0xC0, 0x03, 0x5F, 0xD6};  // ret (x30)
constexpr uint8_t kIsb[] = {0xDF, 0x3F, 0x03, 0xD5};  // isb (0xD5033FDF)
// AAPCS64: the first eight integer arguments in x0-x7, the rest on the stack.
constexpr size_t kArgumentRegisters = 8;

uint32_t wordAt(std::span<const uint8_t> bytes, size_t offset) {
  uint32_t word = 0;
  std::memcpy(&word, bytes.data() + offset, 4);
  return word;
}

// Capstone handles are not thread-safe; each thread keeps its own.
csh capstone() {
  struct Handle {
    csh handle = 0;
    Handle() { cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &handle); }
    ~Handle() { cs_close(&handle); }
  };
  thread_local Handle h;
  return h.handle;
}

int xRegister(size_t index) {
  // UC_ARM64_REG_X0..X28 are contiguous in Unicorn 2.
  return UC_ARM64_REG_X0 + static_cast<int>(index);
}

}  // namespace

Result<Engine> Arm64Arch::openEngine() const {
  uc_engine* uc = nullptr;
  if (uc_err err = uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc); err != UC_ERR_OK)
    // Out of memory opening an engine is the machine's limit, not a bug (exit 2, not 3).
    return Error{err == UC_ERR_NOMEM ? Status::kResource : Status::kInternal, "uc_open(arm64): " + ucErrorText(err)};
  Engine engine(uc);
  // The default CPU lacks LSE atomics, PAC and LDAPR that Windows code uses.
  if (uc_err err = uc_ctl_set_cpu_model(uc, UC_CPU_ARM64_MAX); err != UC_ERR_OK)
    return internalError("uc_ctl_set_cpu_model(arm64 max): " + ucErrorText(err));
  // Unicorn 2.0.1 aborts the process translating some unallocated FP16 encodings: the
  // engine stops before them, and the run reports an invalid instruction there.
  engine.guardTranslation(&arm64::findUntranslatable);
  return engine;
}

std::span<const StateRegister> Arm64Arch::stateRegisters() const {
  static const std::vector<StateRegister> kRegisters = [] {
    static const char* const kX[] = {"x0",  "x1",  "x2",  "x3",  "x4",  "x5",  "x6",  "x7",  "x8",  "x9",  "x10",
                                     "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21",
                                     "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30"};
    static const char* const kV[] = {"v0",  "v1",  "v2",  "v3",  "v4",  "v5",  "v6",  "v7",  "v8",  "v9",  "v10",
                                     "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21",
                                     "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"};
    std::vector<StateRegister> out;
    for (int i = 0; i <= 28; ++i) out.push_back({UC_ARM64_REG_X0 + i, kX[i]});
    out.push_back({UC_ARM64_REG_X29, kX[29]});
    out.push_back({UC_ARM64_REG_X30, kX[30]});
    out.push_back({UC_ARM64_REG_NZCV, "nzcv", 8, 0xF0000000});
    for (int i = 0; i < 32; ++i) out.push_back({UC_ARM64_REG_Q0 + i, kV[i], 16});
    return out;
  }();
  return kRegisters;
}

std::span<const StateRegister> Arm64Arch::entryStateRegisters() const {
  // AAPCS64: arguments x0-x7, v0-v7, the indirect-result register x8; x18 (the TEB on
  // Windows); callee-saved x19-x28, x29, v8-v15; x30, the return address. Only x16/x17
  // (IP0/IP1) may differ: veneers use them.
  static const std::vector<StateRegister> kRegisters = [] {
    std::vector<StateRegister> out;
    for (const StateRegister& r : arm64Arch().stateRegisters()) {
      const std::string_view name = r.name;
      if (name == "x16" || name == "x17" || name == "nzcv") continue;
      const int number = std::atoi(r.name + 1);
      if (name[0] == 'x' && number >= 9 && number <= 15) continue;  // caller-saved temporaries
      if (name[0] == 'v' && number >= 16) continue;
      out.push_back(r);
    }
    return out;
  }();
  return kRegisters;
}

const ArchFacts& Arm64Arch::facts() const {
  static const ArchFacts kFacts = {
      .fixedInstructionBytes = 4,
      .paddingProbeBytes = 4,  // one udf #0 word
      .runtimeFunctionFormat = RuntimeFunctionFormat::kBeginPackedUnwind,
      .singleByteBreakpoint = std::nullopt,  // BRK is a whole word
      .undefinedInstructionInterrupt = 1,    // EXCP_UDEF
      .returnAddressStackBytes = 0,
      .linkRegister = UC_ARM64_REG_X30,
      .integerArgumentRegisters = static_cast<uint32_t>(kArgumentRegisters),  // x0-x7
      // Fetch may see stale code until DC CVAU, IC IVAU (unless CTR_EL0 says not needed)
      // and an ISB on the fetching core.
      .fetchCoherentWithStores = false,
      .concurrentModificationRestricted = true,  // CMODX (emu/arm64/Cmodx.h)
      .contextSynchronizingInstruction = kIsb,
  };
  return kFacts;
}

int Arm64Arch::pcRegister() const { return UC_ARM64_REG_PC; }
int Arm64Arch::spRegister() const { return UC_ARM64_REG_SP; }

Result<void> Arm64Arch::prepareCall(const Engine& engine, const CallFrame& frame) const {
  if (frame.args.size() > kMaxCallArgs) return badInput("too many arguments");
  for (size_t i = 0; i < kMaxCallArgs; ++i) engine.setReg(xRegister(i), i < frame.args.size() ? frame.args[i] : 0);
  engine.setReg(UC_ARM64_REG_SP, (frame.stackTop - 0x100) & ~uint64_t{15});
  engine.setReg(UC_ARM64_REG_X29, 0);
  engine.setReg(UC_ARM64_REG_X30, frame.returnAddress);
  engine.setReg(UC_ARM64_REG_PC, frame.entry);
  return {};
}

uint64_t Arm64Arch::returnValue(const Engine& engine) const { return engine.reg(UC_ARM64_REG_X0); }

uint64_t Arm64Arch::argument(const Engine& engine, size_t index) const {
  if (index < kArgumentRegisters) return engine.reg(xRegister(index));
  uint64_t value = 0;
  engine.read(engine.reg(UC_ARM64_REG_SP) + 8 * (index - kArgumentRegisters), {reinterpret_cast<uint8_t*>(&value), 8});
  return value;
}

uint64_t Arm64Arch::returnAddress(const Engine& engine) const { return engine.reg(UC_ARM64_REG_X30); }

void Arm64Arch::setReturnValue(const Engine& engine, uint64_t value) const { engine.setReg(UC_ARM64_REG_X0, value); }

void Arm64Arch::setThreadPointer(const Engine& engine, uint64_t teb) const { engine.setReg(UC_ARM64_REG_X18, teb); }

std::span<const uint8_t> Arm64Arch::returnInstruction() const { return kRet; }

namespace {

int64_t signExtend(uint64_t value, unsigned bits) {
  const uint64_t sign = uint64_t{1} << (bits - 1);
  return static_cast<int64_t>((value ^ sign) - sign);
}

// Control flow and literal reads, from the encoding (Capstone 4 misses some encodings).
void describeFlow(uint32_t word, uint64_t address, DecodedInstruction& out) {
  out.flow = Flow::kNext;
  if ((word & 0x7C000000u) == 0x14000000u) {  // B / BL imm26
    out.target = address + signExtend(word & 0x3FFFFFFu, 26) * 4;
    out.flow = (word & 0x80000000u) ? Flow::kCall : Flow::kJump;
  } else if ((word & 0xFF000010u) == 0x54000000u) {  // B.cond imm19 (AL and NV always branch)
    out.target = address + signExtend((word >> 5) & 0x7FFFF, 19) * 4;
    out.flow = (word & 0xE) == 0xE ? Flow::kJump : Flow::kConditional;
  } else if ((word & 0x7E000000u) == 0x34000000u) {  // CBZ / CBNZ
    out.target = address + signExtend((word >> 5) & 0x7FFFF, 19) * 4;
    out.flow = Flow::kConditional;
  } else if ((word & 0x7E000000u) == 0x36000000u) {  // TBZ / TBNZ imm14
    out.target = address + signExtend((word >> 5) & 0x3FFF, 14) * 4;
    out.flow = Flow::kConditional;
  } else if ((word & 0xFE1F0000u) == 0xD61F0000u) {                   // BR / BLR / RET / ERET and PAC forms
    out.flow = ((word >> 21) & 0xF) == 1 ? Flow::kNext : Flow::kEnd;  // BLR returns
  } else if ((word & 0xFF000000u) == 0xD4000000u || word == 0) {      // SVC/HVC/SMC/BRK/HLT, udf #0
    out.flow = Flow::kEnd;
  } else if ((word & 0x3B000000u) == 0x18000000u) {  // LDR (literal), incl. SIMD and PRFM
    const uint32_t opc = word >> 30;
    const bool simd = (word >> 26) & 1;
    out.dataRead = address + signExtend((word >> 5) & 0x7FFFF, 19) * 4;
    out.dataReadBytes = simd ? 4u << opc : (opc == 0 ? 4 : 8);
    if (!simd && opc == 3) out.dataReadBytes = 0;  // PRFM reads nothing architecturally
  }
  if (!out.valid) out.flow = Flow::kEnd;
}

}  // namespace

DecodedInstruction Arm64Arch::decode(std::span<const uint8_t> bytes, uint64_t address) const {
  DecodedInstruction out;
  if (bytes.size() < 4) {
    out.text = "(truncated)";
    return out;
  }
  const uint32_t word = wordAt(bytes, 0);
  cs_insn* insn = nullptr;
  // Capstone 4 rejects LSE, LDAPR, PAC branches and udf: those still are 4 bytes long.
  out.length = 4;
  if (cs_disasm(capstone(), bytes.data(), 4, address, 1, &insn) == 1) {
    out.valid = true;
    out.text = insn->op_str[0] ? fmt::format("{} {}", insn->mnemonic, insn->op_str) : std::string(insn->mnemonic);
    cs_free(insn, 1);
  } else {
    out.valid = word != 0;  // udf #0 is the only permanently undefined encoding we name
    out.text = word == 0 ? "udf #0" : fmt::format(".inst 0x{:08x}", word);
  }
  describeFlow(word, address, out);
  return out;
}

std::optional<AtomicAdd> Arm64Arch::atomicAdd(const Engine& engine, std::span<const uint8_t> code, uint64_t pc) const {
  const std::optional<arm64::ExclusiveAdd> loop = arm64::exclusiveAddAt(code, pc);
  if (!loop) return std::nullopt;
  // Unicorn numbers x29, x30 and SP apart from x0-x28.
  const int base = loop->base <= 28   ? xRegister(loop->base)
                   : loop->base == 29 ? UC_ARM64_REG_X29
                   : loop->base == 30 ? UC_ARM64_REG_X30
                                      : UC_ARM64_REG_SP;
  const uint64_t address = engine.reg(base);
  if (address % 8) return std::nullopt;
  return AtomicAdd{.address = address, .begin = pc, .end = pc + arm64::kExclusiveAddBytes};
}

bool Arm64Arch::atomicAddUnobserved(std::span<const uint8_t> code, uint64_t pc, const WalkRegisters& at,
                                    const GuestRead& read, const CodeChanges& willChange) const {
  const std::optional<arm64::ExclusiveAdd> loop = arm64::exclusiveAddAt(code, pc);
  if (!loop) return false;
  return arm64::resultsUnobserved({.registers = loop->results}, pc + arm64::kExclusiveAddBytes, at.link, read,
                                  willChange);
}

std::optional<RegisterOnlyInstruction> Arm64Arch::registerOnly(std::span<const uint8_t> bytes, uint64_t pc) const {
  if (bytes.size() < 4) return std::nullopt;
  uint32_t word;
  std::memcpy(&word, bytes.data(), sizeof(word));
  if ((word & 0xFFFFF0FFu) == 0xD50330DFu) return std::nullopt;  // ISB synchronises context
  const arm64::InstructionEffects e = arm64::effectsOf(word, pc);
  // SP and x30 hold what PC moves, release and the checkers read as return addresses.
  if (!e.known || e.accessesMemory || e.writesSp || (e.writes & arm64::bit(30))) return std::nullopt;
  switch (e.control) {
  case arm64::Control::kNext: return RegisterOnlyInstruction{.next = pc + 4};
  case arm64::Control::kJump: return RegisterOnlyInstruction{.target = e.target};
  case arm64::Control::kConditional: return RegisterOnlyInstruction{.next = pc + 4, .target = e.target};
  case arm64::Control::kReturn:
  case arm64::Control::kIndirect: return RegisterOnlyInstruction{.indirect = true};
  case arm64::Control::kCall: return std::nullopt;  // writes x30
  }
  return std::nullopt;
}

uint32_t Arm64Arch::countInstructions(std::span<const uint8_t> block) const {
  return static_cast<uint32_t>((block.size() + 3) / 4);
}

std::string Arm64Arch::describeInterrupt(uint32_t number) const {
  // QEMU's EXCP_* numbers, which Unicorn passes to UC_HOOK_INTR.
  switch (number) {
  case 1: return "undefined instruction";
  case 2: return "svc (supervisor call)";
  case 3: return "prefetch abort";
  case 4: return "data abort";
  case 7: return "brk (breakpoint)";
  case 11: return "hvc (hypervisor call)";
  case 13: return "smc (secure monitor call)";
  default: return fmt::format("exception {}", number);
  }
}

bool Arm64Arch::isPadding(std::span<const uint8_t> bytes) const {
  // lld pads Arm64 functions with zero words (udf #0).
  if (bytes.empty() || bytes.size() % 4) return false;
  for (size_t i = 0; i < bytes.size(); i += 4)
    if (wordAt(bytes, i) != 0) return false;
  return true;
}

bool Arm64Arch::branchTargetsEnforced(std::span<const uint8_t> functionCode) const {
  if (functionCode.size() < 4) return false;
  return (wordAt(functionCode, 0) & 0xFFFFFF3Fu) == 0xD503241Fu;  // bti, bti c, bti j, bti jc
}

EntryPatchability Arm64Arch::entryPatchability(std::span<const uint8_t> before, std::span<const uint8_t> entry,
                                               uint64_t entryAddress) const {
  EntryPatchability out;
  out.aligned = entryAddress % 4 == 0;
  const DecodedInstruction first = decode(entry, entryAddress);
  out.firstInstruction = first.text;
  out.firstInstructionLength = first.length;
  for (size_t i = before.size(); i >= 4 && isPadding(before.subspan(i - 4, 4)); i -= 4) out.paddingBefore += 4;
  out.concurrentlyModifiable = entry.size() >= 4 && arm64::isConcurrentlyModifiable(wordAt(entry, 0));
  if (!out.aligned)
    out.reason = "entry is not 4-byte aligned";
  else if (!out.concurrentlyModifiable)
    out.reason = fmt::format("first instruction '{}' may not be modified while other cores run it "
                             "(only B, BL, BRK, HVC, ISB, NOP, SMC, SVC may); needs stop-the-world",
                             first.text);
  out.hotpatchable = out.reason.empty();
  return out;
}

const Arch& arm64Arch() {
  static const Arm64Arch instance;
  return instance;
}

}  // namespace hph
