#include "emu/arm64/InstructionEffects.h"

namespace hph::arm64 {
namespace {

uint32_t field(uint32_t word, uint32_t low, uint32_t bits) { return (word >> low) & ((1u << bits) - 1); }

int64_t signExtend(uint32_t value, uint32_t bits) {
  const uint64_t sign = uint64_t{1} << (bits - 1);
  return static_cast<int64_t>((uint64_t{value} ^ sign) - sign);
}

uint32_t rd(uint32_t w) { return field(w, 0, 5); }
uint32_t rn(uint32_t w) { return field(w, 5, 5); }
uint32_t rm(uint32_t w) { return field(w, 16, 5); }

// The destination of an instruction whose register 31 names SP unless it sets flags
// (then the zero register: ADDS, SUBS, ANDS).
void writeResult(InstructionEffects& e, uint32_t reg, bool setsFlags) {
  e.writesFlags = setsFlags;
  if (reg == 31 && !setsFlags)
    e.writesSp = true;
  else
    e.writes |= bit(reg);
}

bool branches(uint32_t w, uint64_t pc, InstructionEffects& e) {
  e.known = true;
  if ((w & 0x7C000000) == 0x14000000) {  // B, BL
    e.target = pc + static_cast<uint64_t>(signExtend(field(w, 0, 26), 26) * 4);
    e.control = (w >> 31) ? Control::kCall : Control::kJump;
    return true;
  }
  if ((w & 0xFF000010) == 0x54000000) {  // B.cond
    e.readsFlags = true;
    e.control = Control::kConditional;
    e.target = pc + static_cast<uint64_t>(signExtend(field(w, 5, 19), 19) * 4);
    return true;
  }
  if ((w & 0x7E000000) == 0x34000000) {  // CBZ, CBNZ
    e.reads = bit(rd(w));
    e.control = Control::kConditional;
    e.target = pc + static_cast<uint64_t>(signExtend(field(w, 5, 19), 19) * 4);
    return true;
  }
  if ((w & 0x7E000000) == 0x36000000) {  // TBZ, TBNZ
    e.reads = bit(rd(w));
    e.control = Control::kConditional;
    e.target = pc + static_cast<uint64_t>(signExtend(field(w, 5, 14), 14) * 4);
    return true;
  }
  if ((w & 0xFE1FFC1F) == 0xD61F0000) {  // BR, BLR, RET (no pointer authentication)
    e.branchRegister = rn(w);
    e.reads = bit(rn(w));
    switch (field(w, 21, 4)) {
    case 0: e.control = Control::kIndirect; return true;
    case 1: e.control = Control::kCall; return true;
    case 2: e.control = Control::kReturn; return true;
    default: break;
    }
  }
  // NOP, BTI (hints that touch no register), DSB, DMB, ISB (order memory and fetches, read
  // no register).
  if (w == 0xD503201F || (w & 0xFFFFFF3F) == 0xD503241F) return true;
  const uint32_t barrier = w & 0xFFFFF0FF;
  if (barrier == 0xD503309F || barrier == 0xD50330BF || barrier == 0xD50330DF) return true;
  e.known = false;
  return false;
}

bool dataProcessingImmediate(uint32_t w, InstructionEffects& e) {
  e.known = true;
  const bool setsFlags = field(w, 29, 1);
  const uint32_t opc = field(w, 29, 2);
  if ((w & 0x1F000000) == 0x10000000) {  // ADR, ADRP
    e.writes = bit(rd(w));
    return true;
  }
  switch (w & 0x1F800000) {
  case 0x11000000:  // ADD, ADDS, SUB, SUBS (immediate): Rn may be SP
    e.reads = bit(rn(w));
    writeResult(e, rd(w), setsFlags);
    return true;
  case 0x12000000:  // AND, ORR, EOR, ANDS (immediate)
    e.reads = bit(rn(w));
    writeResult(e, rd(w), opc == 3);
    return true;
  case 0x12800000:  // MOVN, MOVZ, MOVK: only MOVK keeps (reads) the rest of Rd
    if (opc == 1) break;
    if (opc == 3) e.reads = bit(rd(w));
    e.writes = bit(rd(w));
    return true;
  case 0x13000000:  // SBFM, BFM, UBFM: BFM keeps (reads) the rest of Rd
    if (opc == 3) break;
    e.reads = bit(rn(w)) | (opc == 1 ? bit(rd(w)) : 0);
    e.writes = bit(rd(w));
    return true;
  case 0x13800000:  // EXTR
    e.reads = bit(rn(w)) | bit(rm(w));
    e.writes = bit(rd(w));
    return true;
  default: break;
  }
  e.known = false;
  return false;
}

bool dataProcessingRegister(uint32_t w, InstructionEffects& e) {
  e.known = true;
  const bool setsFlags = field(w, 29, 1);
  // `eor x, y, y` and `sub x, y, y` (unshifted) are 0 whatever y holds: no input.
  const bool zeroingIdiom = ((w & 0x7F20FC00) == 0x4A000000 || (w & 0x7F20FC00) == 0x4B000000) && rn(w) == rm(w);
  if ((w & 0x1F000000) == 0x0A000000) {  // AND, BIC, ORR, ORN, EOR, EON, ANDS, BICS (shifted)
    e.reads = zeroingIdiom ? 0 : bit(rn(w)) | bit(rm(w));
    e.writes = bit(rd(w));
    e.writesFlags = field(w, 29, 2) == 3;
    return true;
  }
  if ((w & 0x1F200000) == 0x0B000000) {  // ADD, ADDS, SUB, SUBS (shifted register)
    e.reads = zeroingIdiom ? 0 : bit(rn(w)) | bit(rm(w));
    e.writes = bit(rd(w));
    e.writesFlags = setsFlags;
    return true;
  }
  if ((w & 0x1F200000) == 0x0B200000) {  // ADD, ADDS, SUB, SUBS (extended): Rn may be SP
    e.reads = bit(rn(w)) | bit(rm(w));
    writeResult(e, rd(w), setsFlags);
    return true;
  }
  // ADC, ADCS, SBC, SBCS; CSEL, CSINC, CSINV, CSNEG (which never set flags).
  if ((w & 0x1FE0FC00) == 0x1A000000 || (w & 0x1FE00000) == 0x1A800000) {
    e.reads = bit(rn(w)) | bit(rm(w));
    e.readsFlags = true;
    e.writes = bit(rd(w));
    e.writesFlags = setsFlags;
    return true;
  }
  if ((w & 0x1FE00000) == 0x1A400000) {  // CCMN, CCMP (register or immediate): all of NZCV
    e.reads = bit(rn(w)) | (field(w, 11, 1) ? 0 : bit(rm(w)));
    e.readsFlags = true;
    e.writesFlags = true;
    return true;
  }
  if ((w & 0x7FE00000) == 0x1AC00000) {  // two sources: UDIV, SDIV, LSLV, LSRV, ASRV, RORV, CRC32
    e.reads = bit(rn(w)) | bit(rm(w));
    e.writes = bit(rd(w));
    return true;
  }
  if ((w & 0x7FFF0000) == 0x5AC00000) {  // one source: RBIT, REV16, REV32, REV, CLZ, CLS
    e.reads = bit(rn(w));
    e.writes = bit(rd(w));
    return true;
  }
  if ((w & 0x1F000000) == 0x1B000000) {  // three sources: MADD, MSUB, SMADDL, UMULH, ...
    e.reads = bit(rn(w)) | bit(rm(w)) | bit(field(w, 10, 5));
    e.writes = bit(rd(w));
    return true;
  }
  e.known = false;
  return false;
}

bool loadsAndStores(uint32_t w, InstructionEffects& e) {
  e.known = true;
  e.accessesMemory = true;
  const bool simd = field(w, 26, 1);
  const uint32_t rt = rd(w);
  // One register: unsigned offset, unscaled / pre- / post-index, register offset.
  const bool unsignedOffset = (w & 0x3B000000) == 0x39000000;
  const bool immediateIndex = (w & 0x3B200000) == 0x38000000;
  const bool registerOffset = (w & 0x3B200C00) == 0x38200800;
  if (unsignedOffset || immediateIndex || registerOffset) {
    const uint32_t size = field(w, 30, 2), opc = field(w, 22, 2);
    e.addresses = bit(rn(w)) | (registerOffset ? bit(rm(w)) : 0);
    if (simd) {  // SIMD&FP registers: never hold a general register's value here
      if (!(opc & 1)) e.writesMemory = true;
      return true;
    }
    if (opc == 0) {
      e.stored = bit(rt);
      e.writesMemory = true;
      return true;
    }
    if (size == 3 && opc >= 2) {  // PRFM (opc 2) loads nothing; opc 3 is unallocated
      e.known = opc == 2;
      return e.known;
    }
    if (size == 2 && opc == 3) {
      e.known = false;
      return false;
    }
    e.writes = bit(rt);
    return true;
  }
  if ((w & 0x3A000000) == 0x28000000) {  // STP, LDP, LDPSW, STNP, LDNP
    const uint32_t rt2 = field(w, 10, 5);
    e.addresses = bit(rn(w));
    if (simd) {
      if (!field(w, 22, 1)) e.writesMemory = true;
      return true;
    }
    if (field(w, 22, 1)) {
      e.writes = bit(rt) | bit(rt2);
    } else {
      e.stored = bit(rt) | bit(rt2);
      e.writesMemory = true;
    }
    return true;
  }
  if ((w & 0x3B000000) == 0x18000000) {  // LDR (literal), LDRSW (literal), PRFM (literal)
    if (!simd && field(w, 30, 2) != 3) e.writes = bit(rt);
    return true;
  }
  e.known = false;
  return false;
}

}  // namespace

InstructionEffects effectsOf(uint32_t word, uint64_t pc) {
  InstructionEffects e;
  switch (field(word, 26, 3)) {  // op0, bits 28:26 (with bit 25 for the register group)
  case 0b101: branches(word, pc, e); break;
  case 0b100: dataProcessingImmediate(word, e); break;
  default:
    if ((word & 0x0E000000) == 0x0A000000)
      dataProcessingRegister(word, e);
    else if ((word & 0x0A000000) == 0x08000000)
      loadsAndStores(word, e);
    break;
  }
  if (!e.known) return InstructionEffects{};
  return e;
}

}  // namespace hph::arm64
