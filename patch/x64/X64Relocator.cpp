// x64 relocation of displaced entry instructions (Zydis decodes; we emit by hand the few
// encodings needed: jmp/jcc rel32, jmp [rip], a push of an immediate return address).
#include <Zydis/Zydis.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "emu/x64/ZydisDecoder.h"
#include "patch/CodeBuffer.h"
#include "patch/Trampoline.h"
#include "patch/TrampolinePlacement.h"

namespace hph {
namespace {

constexpr uint32_t kAbsoluteJumpBytes = 14;  // ff 25 00000000 + 8-byte target

struct Decoded {
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  uint32_t offset = 0;  // in the function
};

using x64::decoder;

bool decodeAt(std::span<const uint8_t> code, uint32_t offset, Decoded& out) {
  out.offset = offset;
  return ZYAN_SUCCESS(
      ZydisDecoderDecodeFull(&decoder(), code.data() + offset, code.size() - offset, &out.insn, out.operands));
}

// The segment register an instruction loads (mov sreg, pop sreg, lss/lfs/lgs), if any.
// Loading fs or gs replaces the base the TEB is reached through and ss/ds/es fault on a
// bad selector: the differential checker does not model segment state, so it would call
// a correct relocation a mismatch. Such instructions are refused instead.
std::optional<ZydisRegister> segmentLoaded(const Decoded& d) {
  for (uint8_t i = 0; i < d.insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = d.operands[i];
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
        ZydisRegisterGetClass(op.reg.value) == ZYDIS_REGCLASS_SEGMENT)
      return op.reg.value;
  }
  return std::nullopt;
}

bool fitsRel32(int64_t v) {
  return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
}

// The absolute target of a relative branch, if this is one.
std::optional<uint64_t> branchTarget(const Decoded& d, uint64_t address) {
  if (!(d.insn.attributes & ZYDIS_ATTRIB_IS_RELATIVE)) return std::nullopt;
  const ZydisDecodedOperand& op = d.operands[0];
  if (op.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !op.imm.is_relative) return std::nullopt;
  ZyanU64 target = 0;
  if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&d.insn, &op, address, &target))) return std::nullopt;
  return target;
}

bool hasOperandSizePrefix(const Decoded& d) {
  for (ZyanU8 i = 0; i < d.insn.raw.prefix_count; ++i)
    if (d.insn.raw.prefixes[i].value == 0x66) return true;
  return false;
}

const ZydisDecodedOperand* ripOperand(const Decoded& d) {
  for (uint8_t i = 0; i < d.insn.operand_count; ++i)
    if (d.operands[i].type == ZYDIS_OPERAND_TYPE_MEMORY && d.operands[i].mem.base == ZYDIS_REGISTER_RIP)
      return &d.operands[i];
  return nullptr;
}

void emitAbsoluteJump(CodeBuffer& out, uint64_t target) {
  const uint8_t jmpRip[] = {0xFF, 0x25, 0, 0, 0, 0};  // jmp [rip+0]; the target follows
  out.bytes(jmpRip, sizeof jmpRip);
  out.u64(target);
}

// Branches from one displaced instruction to a later one. Relocated instructions may change
// size, so such a branch becomes a rel32 whose value is filled in once every displaced
// instruction has its offset in the trampoline (always rel32: a forward distance is only
// known after the instructions in between are emitted).
class ForwardLinks {
 public:
  ForwardLinks(uint64_t spanBegin, uint64_t spanEnd) : begin_(spanBegin), end_(spanEnd) {}
  bool inside(uint64_t target) const { return target >= begin_ && target < end_; }
  // The rel32 field about to be emitted at `field` goes to the displaced instruction at `target`.
  void link(size_t field, uint64_t target) { fixups_.emplace_back(field, static_cast<uint32_t>(target - begin_)); }
  // `boundaries` maps original offsets to trampoline offsets; every linked target is one
  // (the relocator refuses branches to anything else inside the span).
  void resolve(std::vector<uint8_t>& bytes, const std::vector<std::pair<uint32_t, uint32_t>>& boundaries) const {
    for (const auto& [field, targetOffset] : fixups_) {
      for (const auto& [original, relocated] : boundaries) {
        if (original != targetOffset) continue;
        const auto rel = static_cast<int32_t>(static_cast<int64_t>(relocated) - static_cast<int64_t>(field + 4));
        std::memcpy(&bytes[field], &rel, 4);
      }
    }
  }

 private:
  uint64_t begin_, end_;
  std::vector<std::pair<size_t, uint32_t>> fixups_;  // (rel32 field offset, target offset in the original)
};

void emitJump(CodeBuffer& out, uint64_t target, ForwardLinks* links = nullptr) {
  if (links && links->inside(target)) {
    out.byte(0xE9);
    links->link(out.size(), target);
    out.u32(0);
    return;
  }
  const int64_t rel = static_cast<int64_t>(target - (out.here() + 5));
  if (fitsRel32(rel)) {
    out.byte(0xE9);
    out.u32(static_cast<uint32_t>(rel));
    return;
  }
  emitAbsoluteJump(out, target);
}

void emitConditionalJump(CodeBuffer& out, uint8_t condition, uint64_t target, ForwardLinks& links) {
  if (links.inside(target)) {
    out.byte(0x0F);
    out.byte(0x80 | condition);
    links.link(out.size(), target);
    out.u32(0);
    return;
  }
  const int64_t rel = static_cast<int64_t>(target - (out.here() + 6));
  if (fitsRel32(rel)) {
    out.byte(0x0F);
    out.byte(0x80 | condition);
    out.u32(static_cast<uint32_t>(rel));
    return;
  }
  // Out of reach: the opposite condition skips an absolute jump (always the 14-byte form:
  // the skip distance is fixed).
  out.byte(0x70 | (condition ^ 1));
  out.byte(kAbsoluteJumpBytes);
  emitAbsoluteJump(out, target);
}

// What `call` pushes, without touching flags: lea rsp, [rsp-8]; two dword stores.
void emitPushReturnAddress(CodeBuffer& out, uint64_t value) {
  const uint8_t lea[] = {0x48, 0x8D, 0x64, 0x24, 0xF8};
  out.bytes(lea, sizeof lea);
  const uint8_t low[] = {0xC7, 0x04, 0x24};
  out.bytes(low, sizeof low);
  out.u32(static_cast<uint32_t>(value));
  const uint8_t high[] = {0xC7, 0x44, 0x24, 0x04};
  out.bytes(high, sizeof high);
  out.u32(static_cast<uint32_t>(value >> 32));
}

bool isCall(const Decoded& d) { return d.insn.mnemonic == ZYDIS_MNEMONIC_CALL; }

bool isCounterBranch(const Decoded& d) {  // rel8 only: jrcxz/jecxz/loop/loope/loopne
  switch (d.insn.mnemonic) {
  case ZYDIS_MNEMONIC_JRCXZ:
  case ZYDIS_MNEMONIC_JECXZ:
  case ZYDIS_MNEMONIC_LOOP:
  case ZYDIS_MNEMONIC_LOOPE:
  case ZYDIS_MNEMONIC_LOOPNE: return true;
  default: return false;
  }
}

// The instructions covering the first `patchBytes` bytes, or why they cannot be had.
std::string decodeDisplaced(std::span<const uint8_t> code, uint32_t patchBytes, std::vector<Decoded>& displaced) {
  uint32_t offset = 0;
  while (offset < patchBytes) {
    if (offset >= code.size())
      return fmt::format("function is {} bytes, shorter than the {}-byte patch", code.size(), patchBytes);
    Decoded d;
    if (!decodeAt(code, offset, d)) return fmt::format("undecodable instruction at +0x{:x}", offset);
    displaced.push_back(d);
    offset += d.insn.length;
  }
  if (offset > code.size())
    return fmt::format("function is {} bytes, shorter than the {}-byte patch", code.size(), patchBytes);
  return "";
}

uint32_t spanOf(const std::vector<Decoded>& displaced) {
  return displaced.empty() ? 0 : displaced.back().offset + displaced.back().insn.length;
}

bool isJump(const Decoded& d) {
  return d.insn.mnemonic == ZYDIS_MNEMONIC_JMP || d.insn.meta.category == ZYDIS_CATEGORY_COND_BR || isCounterBranch(d);
}

class X64Relocator final : public Relocator {
 public:
  const Arch& arch() const override { return x64Arch(); }

  std::vector<uint8_t> redirect(uint64_t from, uint64_t to) const override {
    CodeBuffer out(from);
    emitJump(out, to);
    return out.take();
  }

  std::vector<AddressRange> references(const TrampolineRequest& request) const override {
    std::vector<Decoded> displaced;
    decodeDisplaced(request.function, request.patchBytes, displaced);  // what decodes, even if refused later
    std::vector<AddressRange> out;
    for (const Decoded& d : displaced) {
      const uint64_t at = request.functionAddress + d.offset;
      // A branch target is where control arrives: its first byte is enough (the checker
      // stops there, and so does the displaced code's business with it).
      if (auto target = branchTarget(d, at)) out.push_back({*target, *target + 1});
      if (const ZydisDecodedOperand* rip = ripOperand(d)) {
        uint64_t target = 0;
        if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&d.insn, rip, at, &target))) continue;
        // The bytes the operand accesses (lea and hints: the address itself).
        const uint64_t width = std::max<uint64_t>(1, rip->size / 8);
        out.push_back({target, target + width});
      }
    }
    return out;
  }

  Relocation relocate(const TrampolineRequest& request) const override {
    const std::span<const uint8_t> code = request.function;
    const uint64_t base = request.functionAddress;
    std::vector<Decoded> displaced;
    if (auto why = decodeDisplaced(code, request.patchBytes, displaced); !why.empty()) {
      Relocation refused = refuse(why);
      refused.malformed = why.starts_with("undecodable");
      return refused;
    }
    const uint32_t span = spanOf(displaced);
    if (auto why = branchIntoSpan(code, base, displaced); !why.empty()) return refuse(why);

    CodeBuffer out(request.trampolineAddress);
    ForwardLinks links(base, base + span);
    std::vector<std::pair<uint32_t, uint32_t>> boundaries;
    std::vector<std::pair<uint32_t, uint32_t>> callReturns;
    for (size_t i = 0; i < displaced.size(); ++i) {
      const Decoded& d = displaced[i];
      const uint64_t at = base + d.offset;
      const uint64_t next = at + d.insn.length;
      const bool last = i + 1 == displaced.size();
      const uint8_t* raw = code.data() + d.offset;
      boundaries.emplace_back(d.offset, static_cast<uint32_t>(out.size()));
      if (d.insn.mnemonic == ZYDIS_MNEMONIC_XBEGIN)
        return refuse(fmt::format("xbegin at +0x{:x} cannot be relocated", d.offset));
      // ENTER with a nesting level of 2 or more copies frame pointers through rbp. The
      // differential check finds the trampoline's copy different from the original's
      // (fuzz/RelocatorFuzzer; not explained yet): refused until it is checkable. No
      // compiler emits it.
      if (d.insn.mnemonic == ZYDIS_MNEMONIC_ENTER && d.insn.raw.imm[1].value.u >= 2)
        return refuse(fmt::format("enter at +0x{:x} with nesting level {}: not checkable, not relocated", d.offset,
                                  d.insn.raw.imm[1].value.u));
      // An x87 instruction records its own address as the FPU's last instruction pointer,
      // which fnstenv, fnsave and fxsave store: in the trampoline it records another one
      // (fuzz/RelocatorFuzzer). Refused.
      if (d.insn.meta.isa_ext == ZYDIS_ISA_EXT_X87)
        return refuse(fmt::format("x87 {} at +0x{:x}: it records its own address for fnstenv and fxsave",
                                  ZydisMnemonicGetString(d.insn.mnemonic), d.offset));
      // A far transfer (iret, far ret, jmp or call) loads CS, and iret the stack too, from
      // memory: the differential check sees it leave for another place from the
      // trampoline than from the original (fuzz/RelocatorFuzzer). Refused, as segment
      // loads are.
      const bool interruptReturn = d.insn.mnemonic == ZYDIS_MNEMONIC_IRET || d.insn.mnemonic == ZYDIS_MNEMONIC_IRETD ||
                                   d.insn.mnemonic == ZYDIS_MNEMONIC_IRETQ;
      if (interruptReturn || d.insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
        return refuse(fmt::format("{} at +0x{:x}: a far transfer (it loads CS): not relocated",
                                  ZydisMnemonicGetString(d.insn.mnemonic), d.offset));
      // popf may set the trap flag: the single-step trap then follows the next instruction,
      // which in the trampoline is another one (its copy, or the jump back) than in the
      // original (fuzz/RelocatorFuzzer: "original ran, trampoline exception 1"). Refused.
      if (d.insn.mnemonic == ZYDIS_MNEMONIC_POPF || d.insn.mnemonic == ZYDIS_MNEMONIC_POPFD ||
          d.insn.mnemonic == ZYDIS_MNEMONIC_POPFQ)
        return refuse(fmt::format("{} at +0x{:x} may set the trap flag, whose trap lands after another instruction "
                                  "in the trampoline: not relocated",
                                  ZydisMnemonicGetString(d.insn.mnemonic), d.offset));
      if (auto segment = segmentLoaded(d))
        return refuse(fmt::format("{} at +0x{:x} loads segment register {}: not relocated (segment state is "
                                  "not checked)",
                                  ZydisMnemonicGetString(d.insn.mnemonic), d.offset, ZydisRegisterGetString(*segment)));
      // A relative branch with an operand-size prefix: Intel ignores the prefix in 64-bit
      // mode, AMD (and Unicorn) truncate the target to 16 bits, so no relocation behaves
      // as the original on both (fuzz/RelocatorFuzzer: "original fetch at 0xfba,
      // trampoline ran"). No compiler emits it. Refused.
      if ((d.insn.attributes & ZYDIS_ATTRIB_IS_RELATIVE) && hasOperandSizePrefix(d))
        return refuse(fmt::format("{} at +0x{:x} with an operand-size prefix: its target is 16 bits on AMD, 64 on "
                                  "Intel: not relocated",
                                  ZydisMnemonicGetString(d.insn.mnemonic), d.offset));
      if (auto target = branchTarget(d, at)) {
        if (isCall(d) && !last && request.callsReturnIntoTrampoline) {
          const int64_t rel = static_cast<int64_t>(*target - (out.here() + 5));
          if (!fitsRel32(rel))
            return refuse(fmt::format("call at +0x{:x}: its target is out of rel32 reach of the trampoline", d.offset));
          out.byte(0xE8);
          out.u32(static_cast<uint32_t>(rel));
          callReturns.emplace_back(d.offset + d.insn.length, static_cast<uint32_t>(out.size()));
        } else if (isCall(d)) {
          if (!last) return refuse(callNotLast(d));
          emitPushReturnAddress(out, next);  // the callee returns into the original
          emitJump(out, *target);
        } else if (d.insn.mnemonic == ZYDIS_MNEMONIC_JMP) {
          emitJump(out, *target, &links);
        } else if (isCounterBranch(d)) {
          // <op> taken ; jmp short over ; taken: jmp target
          out.bytes(raw, d.insn.length - 1);
          out.byte(2);
          out.byte(0xEB);
          const size_t skip = out.size();
          out.byte(0);
          const size_t before = out.size();
          emitJump(out, *target, &links);
          out.patchByte(skip, static_cast<uint8_t>(out.size() - before));
        } else if (d.insn.meta.category == ZYDIS_CATEGORY_COND_BR) {
          emitConditionalJump(out, d.insn.opcode & 0x0F, *target, links);
        } else {
          return refuse(fmt::format("relative {} at +0x{:x} is not supported", ZydisMnemonicGetString(d.insn.mnemonic),
                                    d.offset));
        }
        continue;
      }
      std::vector<uint8_t> bytes(raw, raw + d.insn.length);
      if (isCall(d) && !(request.callsReturnIntoTrampoline && !last)) {
        // call r/m (ff /2): push the original return address, then jmp r/m (ff /4).
        if (!last) return refuse(callNotLast(d));
        // The push moves RSP before the jump reads its operand: an operand through RSP
        // would read 8 bytes off.
        for (uint8_t k = 0; k < d.insn.operand_count_visible; ++k) {
          const ZydisDecodedOperand& op = d.operands[k];
          if ((op.type == ZYDIS_OPERAND_TYPE_REGISTER && op.reg.value == ZYDIS_REGISTER_RSP) ||
              (op.type == ZYDIS_OPERAND_TYPE_MEMORY &&
               (op.mem.base == ZYDIS_REGISTER_RSP || op.mem.index == ZYDIS_REGISTER_RSP)))
            return refuse(
                fmt::format("call through rsp at +0x{:x}: the relocated push would change its operand", d.offset));
        }
        const uint8_t modrm = bytes[d.insn.raw.modrm.offset];
        if (((modrm >> 3) & 7) != 2) return refuse(fmt::format("far call at +0x{:x}", d.offset));
        bytes[d.insn.raw.modrm.offset] = static_cast<uint8_t>((modrm & ~0x38) | (4 << 3));
        emitPushReturnAddress(out, next);
      }
      if (const ZydisDecodedOperand* rip = ripOperand(d)) {
        uint64_t target = 0;
        ZydisCalcAbsoluteAddress(&d.insn, rip, at, &target);
        // Memory inside the span holds the patch once the entry is overwritten, wherever
        // the access is relocated to: the original read (or wrote) its own instructions.
        // An address computed (lea) is not an access.
        const uint64_t width = std::max<uint64_t>(1, rip->size / 8);
        if (rip->mem.type != ZYDIS_MEMOP_TYPE_AGEN && target < base + span && target + width > base)
          return refuse(fmt::format("RIP-relative operand at +0x{:x} accesses 0x{:x}..0x{:x}, overlapping the "
                                    "displaced span ({} bytes), which the patch overwrites",
                                    d.offset, target, target + width, span));
        // The displacement sits at the same offset whatever follows it (immediates too).
        const int64_t disp = static_cast<int64_t>(target - (out.here() + d.insn.length)) + request.ripFixupError;
        if (!fitsRel32(disp))
          return refuse(fmt::format("RIP-relative operand at +0x{:x} reaches 0x{:x}, out of +-2 GiB of "
                                    "the trampoline",
                                    d.offset, target));
        const auto disp32 = static_cast<int32_t>(disp);
        std::memcpy(&bytes[d.insn.raw.disp.offset], &disp32, 4);
      }
      out.bytes(bytes.data(), bytes.size());
      if (isCall(d) && request.callsReturnIntoTrampoline && !last)
        callReturns.emplace_back(d.offset + d.insn.length, static_cast<uint32_t>(out.size()));
    }
    emitJump(out, base + span);
    Trampoline t;
    t.address = request.trampolineAddress;
    t.bytes = out.take();
    links.resolve(t.bytes, boundaries);
    // Placed over what the displaced code calls, loads or is, it would not be equivalent.
    if (auto conflict = placementConflict(*this, request, t.address, t.bytes.size()); !conflict.empty())
      return refuse(conflict);
    t.displacedBytes = span;
    t.resumeAddress = base + span;
    t.boundaries = std::move(boundaries);
    t.callReturns = std::move(callReturns);
    return {t, ""};
  }

 private:
  static Relocation refuse(std::string why) { return {std::nullopt, std::move(why)}; }

  static std::string callNotLast(const Decoded& d) {
    return fmt::format("call at +0x{:x} is not the last displaced instruction: its return address "
                       "would lie in the overwritten span",
                       d.offset);
  }

  // Control flow that could arrive inside the displaced span after it is overwritten: any
  // relative branch in the function whose target is in [entry, entry + span), other than
  // falling into the entry from outside. The one exception is a jump from a displaced
  // instruction forward to the start of a later one: it stays inside the trampoline.
  static std::string branchIntoSpan(std::span<const uint8_t> code, uint64_t base,
                                    const std::vector<Decoded>& displaced) {
    const uint32_t span = spanOf(displaced);
    auto displacedAt = [&](uint64_t offset) -> const Decoded* {
      for (const Decoded& d : displaced)
        if (d.offset == offset) return &d;
      return nullptr;
    };
    uint32_t offset = 0;
    while (offset < code.size()) {
      Decoded d;
      if (!decodeAt(code, offset, d)) {
        ++offset;  // padding or data: keep sweeping
        continue;
      }
      if (auto target = branchTarget(d, base + offset); target && *target >= base && *target < base + span) {
        const uint64_t to = *target - base;
        const bool fromSpan = offset<span, forward = to> offset, boundary = displacedAt(to) != nullptr;
        if (!(fromSpan && forward && boundary && isJump(d)))
          return fmt::format("branch at +0x{:x} targets +0x{:x}, inside the {}-byte displaced span{}", offset, to, span,
                             fromSpan && forward && !boundary ? " (not an instruction boundary)" : "");
      }
      offset += d.insn.length;
    }
    return "";
  }
};

}  // namespace

const Relocator& x64Relocator() {
  static const X64Relocator instance;
  return instance;
}

}  // namespace hph
