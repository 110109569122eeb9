#include "emu/x64/ResultLiveness.h"

#include <algorithm>
#include <array>
#include <tuple>

#include "emu/x64/ZydisDecoder.h"

namespace hph::x64 {
namespace {

// Bounds on one walk: beyond them the results count as observed.
constexpr size_t kMaxInstructions = 512;
constexpr size_t kMaxPaths = 32;
constexpr size_t kMaxCallDepth = 4;
constexpr uint32_t kStatusFlags = ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF |
                                  ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF | ZYDIS_CPUFLAG_DF;

ZydisRegister container(ZydisRegister reg) { return ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg); }

bool isFlagsOrIp(ZydisRegister reg) {
  const ZydisRegisterClass c = ZydisRegisterGetClass(reg);
  return c == ZYDIS_REGCLASS_FLAGS || c == ZYDIS_REGCLASS_IP;
}

uint32_t flagsWritten(const ZydisDecodedInstruction& insn) {
  if (!insn.cpu_flags) return 0;
  const ZydisAccessedFlags& f = *insn.cpu_flags;
  return (f.modified | f.set_0 | f.set_1 | f.undefined) & kStatusFlags;
}

// One path of the walk: where it is, what still holds derived values, and the stack.
struct Path {
  uint64_t pc = 0;
  std::vector<ZydisRegister> tainted;  // containers, sorted
  uint32_t flags = 0;
  int64_t rspDelta = 0;  // rsp now minus rsp at the start
  std::vector<std::pair<uint64_t, int64_t>>
      returns;  // calls the walk entered: (return address, rspDelta after the push)

  bool done() const { return tainted.empty() && flags == 0; }
  bool has(ZydisRegister reg) const { return std::binary_search(tainted.begin(), tainted.end(), container(reg)); }
  void set(ZydisRegister reg, bool derived) {
    const ZydisRegister c = container(reg);
    auto it = std::lower_bound(tainted.begin(), tainted.end(), c);
    const bool present = it != tainted.end() && *it == c;
    if (derived && !present) tainted.insert(it, c);
    if (!derived && present) tainted.erase(it);
  }
  auto key() const { return std::tie(pc, tainted, flags, rspDelta, returns); }
};

// A write that replaces the whole container (32-bit writes zero the upper half).
bool replacesContainer(ZydisRegister reg) {
  const ZydisRegisterClass c = ZydisRegisterGetClass(reg);
  return c == ZYDIS_REGCLASS_GPR64 || c == ZYDIS_REGCLASS_GPR32 || reg == container(reg);
}

enum class Step { kOn, kDone, kObserved };

// Advances `path` over one instruction; successors beyond the first go to `forks`.
Step step(Path& path, uint64_t rsp, const GuestRead& read, std::vector<Path>& forks) {
  std::array<uint8_t, ZYDIS_MAX_INSTRUCTION_LENGTH> bytes{};
  size_t available = bytes.size();
  while (available > 0 && !read(path.pc, std::span(bytes.data(), available))) --available;
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (available == 0 || !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder(), bytes.data(), available, &insn, ops)))
    return Step::kObserved;
  const std::span<const ZydisDecodedOperand> operands(ops, insn.operand_count);
  switch (insn.meta.category) {
  case ZYDIS_CATEGORY_SYSTEM:
  case ZYDIS_CATEGORY_SYSCALL:
  case ZYDIS_CATEGORY_INTERRUPT: return Step::kObserved;
  default: break;
  }
  if (insn.cpu_flags && (insn.cpu_flags->tested & path.flags)) return Step::kObserved;

  // `xor r, r` and `sub r, r` zero r whatever it held: no input.
  const bool zeroingIdiom = (insn.mnemonic == ZYDIS_MNEMONIC_XOR || insn.mnemonic == ZYDIS_MNEMONIC_SUB) &&
                            insn.operand_count_visible == 2 && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                            ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[0].reg.value == ops[1].reg.value;
  bool derivedInput = false, writesMemory = false;
  for (const ZydisDecodedOperand& op : operands) {
    if (zeroingIdiom) break;
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      for (ZydisRegister r : {op.mem.base, op.mem.index})
        if (r != ZYDIS_REGISTER_NONE && !isFlagsOrIp(r) && path.has(r)) return Step::kObserved;  // an address
      if (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) writesMemory = true;
    } else if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) &&
               !isFlagsOrIp(op.reg.value) && path.has(op.reg.value)) {
      derivedInput = true;
    }
  }
  if (derivedInput && writesMemory) return Step::kObserved;  // the value may be stored
  // Where the thread goes next would depend on it (loop, jrcxz).
  if (derivedInput && insn.meta.category == ZYDIS_CATEGORY_COND_BR) return Step::kObserved;

  // The stack pointer: only the changes the walk can follow.
  const bool writesRsp = std::any_of(operands.begin(), operands.end(), [](const ZydisDecodedOperand& op) {
    return op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
           container(op.reg.value) == ZYDIS_REGISTER_RSP;
  });
  const uint64_t next = path.pc + insn.length;
  // A direct target, or one read from a rip-relative slot (`jmp [rip+x]`: the hotpatch
  // area's address table, import thunks); the slot is read now, as the walk reads code.
  auto relativeTarget = [&](uint64_t* target) {
    if (insn.operand_count_visible == 0) return false;
    const ZydisDecodedOperand& op = ops[0];
    if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
      return op.imm.is_relative && ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &op, path.pc, target));
    uint64_t slot = 0;
    return op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.base == ZYDIS_REGISTER_RIP &&
           op.mem.index == ZYDIS_REGISTER_NONE && op.size == 64 &&
           ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &op, path.pc, &slot)) &&
           read(slot, std::span(reinterpret_cast<uint8_t*>(target), 8));
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
  const uint32_t written = flagsWritten(insn);
  path.flags = derivedInput ? (path.flags | written) : (path.flags & ~written);

  switch (insn.meta.category) {
  case ZYDIS_CATEGORY_COND_BR: {
    uint64_t target = 0;
    if (!relativeTarget(&target)) return Step::kObserved;
    Path taken = path;
    taken.pc = target;
    forks.push_back(std::move(taken));
    path.pc = next;
    return path.done() ? Step::kDone : Step::kOn;
  }
  case ZYDIS_CATEGORY_UNCOND_BR: {
    uint64_t target = 0;
    if (!relativeTarget(&target)) return Step::kObserved;  // indirect
    path.pc = target;
    return Step::kOn;
  }
  case ZYDIS_CATEGORY_CALL: {
    uint64_t target = 0;
    if (!relativeTarget(&target) || path.returns.size() >= kMaxCallDepth) return Step::kObserved;
    path.rspDelta -= 8;
    path.returns.emplace_back(next, path.rspDelta);
    path.pc = target;
    return Step::kOn;
  }
  case ZYDIS_CATEGORY_RET: {
    const int64_t popped = 8 + (insn.operand_count_visible > 0 && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE
                                    ? static_cast<int64_t>(ops[0].imm.value.u)
                                    : 0);
    if (!path.returns.empty()) {
      if (path.returns.back().second != path.rspDelta) return Step::kObserved;
      path.pc = path.returns.back().first;
      path.returns.pop_back();
    } else {
      // Out of the function the walk began in: its caller's return address is on the stack.
      uint64_t target = 0;
      if (!read(rsp + static_cast<uint64_t>(path.rspDelta), std::span(reinterpret_cast<uint8_t*>(&target), 8)))
        return Step::kObserved;
      path.pc = target;
    }
    path.rspDelta += popped;
    return path.done() ? Step::kDone : Step::kOn;
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
      return Step::kObserved;  // a stack pointer the walk cannot follow
    }
  }
  path.pc = next;
  return path.done() ? Step::kDone : Step::kOn;
}

}  // namespace

Results writtenResults(const ZydisDecodedInstruction& instruction, std::span<const ZydisDecodedOperand> operands) {
  Results out;
  for (const ZydisDecodedOperand& op : operands)
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
        !isFlagsOrIp(op.reg.value) && container(op.reg.value) != ZYDIS_REGISTER_RSP)
      out.registers.push_back(op.reg.value);
  out.flags = flagsWritten(instruction);
  return out;
}

bool resultsUnobserved(const Results& results, uint64_t next, uint64_t rsp, const GuestRead& read) {
  Path first;
  first.pc = next;
  for (ZydisRegister r : results.registers) first.set(r, true);
  first.flags = results.flags & kStatusFlags;
  if (first.done()) return true;
  std::vector<Path> pending{std::move(first)};
  std::vector<Path> seenPaths;
  size_t instructions = 0, paths = 1;
  while (!pending.empty()) {
    Path path = std::move(pending.back());
    pending.pop_back();
    for (;;) {
      // A path back where another was with the same taint goes the same way: nothing new.
      if (std::any_of(seenPaths.begin(), seenPaths.end(), [&](const Path& p) { return p.key() == path.key(); })) break;
      seenPaths.push_back(path);
      if (++instructions > kMaxInstructions) return false;
      std::vector<Path> forks;
      const Step s = step(path, rsp, read, forks);
      if (s == Step::kObserved) return false;
      for (Path& fork : forks) {
        if (++paths > kMaxPaths) return false;
        if (!fork.done()) pending.push_back(std::move(fork));
      }
      if (s == Step::kDone) break;
    }
  }
  return true;
}

}  // namespace hph::x64
