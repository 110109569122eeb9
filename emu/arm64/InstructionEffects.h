// What one A64 instruction reads and writes, decoded from its encoding, for the result
// liveness walk (arm64/ResultLiveness.h). Only the instruction classes that ordinary
// integer code after an atomic add is made of are known: branches, NOP/BTI and barriers,
// integer data processing (immediate and register), and the plain loads and stores
// (immediate, register-offset, pair, literal). Everything else is `known = false`, which
// the walk takes as observing everything. Decoded by bit fields rather than through
// Capstone: Capstone 4 reports some writes as reads and some reads as nothing (`movz w0`
// "reads" w0), and a walk that misses a read would call an observed result dead.
#pragma once

#include <cstdint>

namespace hph::arm64 {

// General registers as bits 0..30 of a mask (x0..x30); the zero register is no bit.
using RegisterMask = uint32_t;
inline constexpr RegisterMask bit(uint32_t reg) { return reg < 31 ? RegisterMask{1} << reg : 0; }

enum class Control : uint8_t {
  kNext,         // falls through
  kJump,         // B: `target` only
  kConditional,  // B.cond, CBZ/CBNZ, TBZ/TBNZ: `target` or the next instruction
  kCall,         // BL (`target`) or BLR (register `branchRegister`)
  kReturn,       // RET Xn (`branchRegister`, x30 for a plain ret)
  kIndirect,     // BR Xn: nowhere the walk can follow
};

struct InstructionEffects {
  bool known = false;
  RegisterMask reads = 0;   // general registers whose values flow into the results
  RegisterMask writes = 0;  // general registers replaced whole (W writes zero the top half)
  bool readsFlags = false;  // NZCV: conditions, ADC/SBC carries, CCMP
  bool writesFlags = false;
  // Registers used to form a memory address (base, index), and those whose values a
  // store writes to memory: a derived value in either is observed.
  RegisterMask addresses = 0;
  RegisterMask stored = 0;
  bool writesMemory = false;
  bool accessesMemory = false;  // any load, store or prefetch, literal ones included
  // Writes the stack pointer (register 31 as a destination where it names SP): a derived
  // value written there is observed.
  bool writesSp = false;
  Control control = Control::kNext;
  uint64_t target = 0;           // kJump, kConditional, kCall (BL)
  uint32_t branchRegister = 31;  // kCall (BLR), kReturn, kIndirect
};

InstructionEffects effectsOf(uint32_t word, uint64_t pc);

}  // namespace hph::arm64
