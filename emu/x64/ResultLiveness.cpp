#include "emu/x64/ResultLiveness.h"

#include <algorithm>
#include <array>
#include <tuple>

#include "emu/core/PathWalk.h"
#include "emu/x64/ZydisDecoder.h"

namespace hph::x64 {
namespace {

constexpr uint32_t kStatusFlags = ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF |
                                  ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF | ZYDIS_CPUFLAG_DF;

ZydisRegister container(ZydisRegister reg) { return ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg); }

bool isFlagsOrIp(ZydisRegister reg) {
  const ZydisRegisterClass c = ZydisRegisterGetClass(reg);
  return c == ZYDIS_REGCLASS_FLAGS || c == ZYDIS_REGCLASS_IP;
}

// Flags the instruction may change (a derived input taints them all).
uint32_t flagsTouched(const ZydisDecodedInstruction& insn) {
  if (!insn.cpu_flags) return 0;
  const ZydisAccessedFlags& f = *insn.cpu_flags;
  return (f.modified | f.set_0 | f.set_1 | f.undefined) & kStatusFlags;
}

// Flags the instruction always replaces: not those it leaves "undefined" (an emulator may
// keep them), and none for a shift or rotate whose count may be 0 (it changes no flag).
uint32_t flagsReplaced(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops) {
  if (!insn.cpu_flags) return 0;
  switch (insn.mnemonic) {
  case ZYDIS_MNEMONIC_SHL:
  case ZYDIS_MNEMONIC_SHR:
  case ZYDIS_MNEMONIC_SAR:
  case ZYDIS_MNEMONIC_ROL:
  case ZYDIS_MNEMONIC_ROR:
  case ZYDIS_MNEMONIC_RCL:
  case ZYDIS_MNEMONIC_RCR:
  case ZYDIS_MNEMONIC_SHLD:
  case ZYDIS_MNEMONIC_SHRD: {
    const ZydisDecodedOperand& count = ops[insn.operand_count_visible - 1];
    if (count.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || (count.imm.value.u & 0x3f) == 0) return 0;
    break;
  }
  default: break;
  }
  const ZydisAccessedFlags& f = *insn.cpu_flags;
  return (f.modified | f.set_0 | f.set_1) & ~f.undefined & kStatusFlags;
}

// What a callee may read under the Win64 calling convention: the argument registers and
// the callee-saved ones (it preserves those, and the checkers compare them at a patched
// entry, C6). Everything else is volatile: dead at a call.
bool calleeMayRead(ZydisRegister container) {
  switch (container) {
  case ZYDIS_REGISTER_RCX:
  case ZYDIS_REGISTER_RDX:
  case ZYDIS_REGISTER_R8:
  case ZYDIS_REGISTER_R9:
  case ZYDIS_REGISTER_RBX:
  case ZYDIS_REGISTER_RBP:
  case ZYDIS_REGISTER_RSI:
  case ZYDIS_REGISTER_RDI:
  case ZYDIS_REGISTER_R12:
  case ZYDIS_REGISTER_R13:
  case ZYDIS_REGISTER_R14:
  case ZYDIS_REGISTER_R15:
  case ZYDIS_REGISTER_RSP: return true;
  default: break;
  }
  if (container >= ZYDIS_REGISTER_ZMM0 && container <= ZYDIS_REGISTER_ZMM3) return true;
  if (container >= ZYDIS_REGISTER_ZMM6 && container <= ZYDIS_REGISTER_ZMM15) return true;
  // Other classes (x87, mask, segment...) are not modelled: assume the callee reads them.
  const ZydisRegisterClass c = ZydisRegisterGetClass(container);
  return c != ZYDIS_REGCLASS_GPR64 && c != ZYDIS_REGCLASS_ZMM;
}

// One path of the walk: where it is, what still holds derived values, and the stack.
struct Path {
  uint64_t pc = 0;
  std::vector<ZydisRegister> tainted;  // containers, sorted
  uint32_t flags = 0;
  int64_t rspDelta = 0;      // rsp now minus rsp at the start
  bool wroteMemory = false;  // the stack above may no longer hold what it held

  bool done() const { return tainted.empty() && flags == 0; }
  bool has(ZydisRegister reg) const { return std::binary_search(tainted.begin(), tainted.end(), container(reg)); }
  void set(ZydisRegister reg, bool derived) {
    const ZydisRegister c = container(reg);
    auto it = std::lower_bound(tainted.begin(), tainted.end(), c);
    const bool present = it != tainted.end() && *it == c;
    if (derived && !present) tainted.insert(it, c);
    if (!derived && present) tainted.erase(it);
  }
  auto key() const { return std::tie(pc, tainted, flags, rspDelta, wroteMemory); }
};

// A write that replaces the whole container (32-bit writes zero the upper half).
bool replacesContainer(ZydisRegister reg) {
  const ZydisRegisterClass c = ZydisRegisterGetClass(reg);
  return c == ZYDIS_REGCLASS_GPR64 || c == ZYDIS_REGCLASS_GPR32 || reg == container(reg);
}

// Advances `path` over one instruction; successors beyond the first go to `forks`.
WalkStep step(Path& path, uint64_t rsp, const GuestRead& read, const CodeChanges& willChange,
              std::vector<Path>& forks) {
  std::array<uint8_t, ZYDIS_MAX_INSTRUCTION_LENGTH> bytes{};
  size_t available = bytes.size();
  while (available > 0 && !read(path.pc, std::span(bytes.data(), available))) --available;
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (available == 0 || !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), bytes.data(), available, &insn, ops)))
    return WalkStep::kObserved;
  const std::span<const ZydisDecodedOperand> operands(ops, insn.operand_count);
  // Code a plan step will still store to: the thread may run other bytes there later.
  if (willChange(path.pc, path.pc + insn.length)) return WalkStep::kObserved;
  switch (insn.meta.category) {
  case ZYDIS_CATEGORY_SYSTEM:
  case ZYDIS_CATEGORY_SYSCALL:
  case ZYDIS_CATEGORY_INTERRUPT: return WalkStep::kObserved;
  default: break;
  }
  if (insn.cpu_flags && (insn.cpu_flags->tested & path.flags)) return WalkStep::kObserved;

  // `xor r, r` and `sub r, r` zero r whatever it held: no input.
  const bool zeroingIdiom = (insn.mnemonic == ZYDIS_MNEMONIC_XOR || insn.mnemonic == ZYDIS_MNEMONIC_SUB) &&
                            insn.operand_count_visible == 2 && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                            ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[0].reg.value == ops[1].reg.value;
  bool derivedInput = false, writesMemory = false;
  for (const ZydisDecodedOperand& op : operands) {
    if (zeroingIdiom) break;
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      for (ZydisRegister r : {op.mem.base, op.mem.index})
        if (r != ZYDIS_REGISTER_NONE && !isFlagsOrIp(r) && path.has(r)) return WalkStep::kObserved;  // an address
      if (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) writesMemory = true;
    } else if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) &&
               !isFlagsOrIp(op.reg.value) && path.has(op.reg.value)) {
      derivedInput = true;
    }
  }
  if (derivedInput && writesMemory) return WalkStep::kObserved;  // the value may be stored
  // Where the thread goes next would depend on it (loop, jrcxz).
  if (derivedInput && insn.meta.category == ZYDIS_CATEGORY_COND_BR) return WalkStep::kObserved;

  // The stack pointer: only the changes the walk can follow.
  const bool writesRsp = std::any_of(operands.begin(), operands.end(), [](const ZydisDecodedOperand& op) {
    return op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
           container(op.reg.value) == ZYDIS_REGISTER_RSP;
  });
  const uint64_t next = path.pc + insn.length;
  if (writesMemory) path.wroteMemory = true;
  auto relativeTarget = [&](uint64_t* target) {
    return insn.operand_count_visible > 0 && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[0].imm.is_relative &&
           ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[0], path.pc, target));
  };

  // Taint moves with the data: written registers hold derived values when any input was.
  for (const ZydisDecodedOperand& op : operands) {
    if (op.type != ZYDIS_OPERAND_TYPE_REGISTER || !(op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
    const ZydisRegister r = op.reg.value;
    if (isFlagsOrIp(r) || container(r) == ZYDIS_REGISTER_RSP) continue;
    if (derivedInput)
      path.set(r, true);
    else if (replacesContainer(r) && !(op.actions & ZYDIS_OPERAND_ACTION_CONDWRITE))
      path.set(r, false);
  }
  path.flags = derivedInput ? (path.flags | flagsTouched(insn)) : (path.flags & ~flagsReplaced(insn, ops));

  switch (insn.meta.category) {
  case ZYDIS_CATEGORY_COND_BR: {
    uint64_t target = 0;
    if (!relativeTarget(&target)) return WalkStep::kObserved;
    Path taken = path;
    taken.pc = target;
    forks.push_back(std::move(taken));
    path.pc = next;
    return path.done() ? WalkStep::kDone : WalkStep::kOn;
  }
  case ZYDIS_CATEGORY_UNCOND_BR: {
    uint64_t target = 0;
    if (!relativeTarget(&target)) return WalkStep::kObserved;  // indirect
    path.pc = target;
    return WalkStep::kOn;
  }
  case ZYDIS_CATEGORY_CALL:
    // Not followed: what runs there may change (a patch), and a host shim stub is not
    // what runs at all. The calling convention says what the callee may read.
    for (ZydisRegister r : path.tainted)
      if (calleeMayRead(r)) return WalkStep::kObserved;
    return WalkStep::kDone;
  case ZYDIS_CATEGORY_RET: {
    const int64_t popped = 8 + (insn.operand_count_visible > 0 && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE
                                    ? static_cast<int64_t>(ops[0].imm.value.u)
                                    : 0);
    // Out to the caller, through the return address on the stack: only from where the add
    // ran or above, and only while nothing the walk followed wrote memory (it could have
    // been that slot).
    if (path.rspDelta < 0 || path.wroteMemory) return WalkStep::kObserved;
    uint64_t target = 0;
    if (!read(rsp + static_cast<uint64_t>(path.rspDelta), std::span(reinterpret_cast<uint8_t*>(&target), 8)))
      return WalkStep::kObserved;
    path.pc = target;
    path.rspDelta += popped;
    return path.done() ? WalkStep::kDone : WalkStep::kOn;
  }
  default: break;
  }
  if (writesRsp) {
    if (insn.mnemonic == ZYDIS_MNEMONIC_PUSH) {
      path.rspDelta -= 8;
    } else if (insn.mnemonic == ZYDIS_MNEMONIC_POP) {
      path.rspDelta += 8;
    } else if ((insn.mnemonic == ZYDIS_MNEMONIC_ADD || insn.mnemonic == ZYDIS_MNEMONIC_SUB) &&
               insn.operand_count_visible == 2 && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
               ops[0].reg.value == ZYDIS_REGISTER_RSP && ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
      const auto amount = static_cast<int64_t>(ops[1].imm.value.s);
      path.rspDelta += insn.mnemonic == ZYDIS_MNEMONIC_ADD ? amount : -amount;
    } else {
      return WalkStep::kObserved;  // a stack pointer the walk cannot follow
    }
  }
  path.pc = next;
  return path.done() ? WalkStep::kDone : WalkStep::kOn;
}

}  // namespace

Results writtenResults(const ZydisDecodedInstruction& instruction, std::span<const ZydisDecodedOperand> operands) {
  Results out;
  for (const ZydisDecodedOperand& op : operands)
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
        !isFlagsOrIp(op.reg.value) && container(op.reg.value) != ZYDIS_REGISTER_RSP)
      out.registers.push_back(op.reg.value);
  out.flags = flagsTouched(instruction);
  return out;
}

bool resultsUnobserved(const Results& results, uint64_t next, uint64_t rsp, const GuestRead& read,
                       const CodeChanges& willChange) {
  Path first;
  first.pc = next;
  for (ZydisRegister r : results.registers) first.set(r, true);
  first.flags = results.flags & kStatusFlags;
  return everyPathDropsTheResults(std::move(first), WalkBounds{}, [&](Path& path, std::vector<Path>& forks) {
    return step(path, rsp, read, willChange, forks);
  });
}

}  // namespace hph::x64
