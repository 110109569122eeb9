// The Arm64EC ABI's register mapping: which Arm64 register holds which x64 register of a
// hybrid thread's state (x0 = rcx, x8 = rax, sp = rsp, q0-q15 = xmm0-xmm15, ...: the
// layout of Windows' ARM64EC_NT_CONTEXT over the x64 CONTEXT). A crossing from one engine
// to the other copies these; the Arm64 registers outside the mapping hold nothing x64
// code can see.
#pragma once

#include <span>

#include "emu/core/Engine.h"

namespace hph::hybrid {

struct EcRegisterPair {
  int x64 = 0;    // Unicorn x86 register id
  int arm64 = 0;  // Unicorn Arm64 register id
  unsigned bytes = 8;
};

std::span<const EcRegisterPair> ecRegisters();

void copyX64ToArm64(const Engine& x64, const Engine& arm64);
void copyArm64ToX64(const Engine& arm64, const Engine& x64);

}  // namespace hph::hybrid
