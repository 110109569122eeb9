#include "emu/hybrid/EcRegisters.h"

#include <unicorn/arm64.h>
#include <unicorn/x86.h>

#include <vector>

namespace hph::hybrid {

std::span<const EcRegisterPair> ecRegisters() {
  static const std::vector<EcRegisterPair> kPairs = [] {
    std::vector<EcRegisterPair> pairs = {
        {UC_X86_REG_RAX, UC_ARM64_REG_X8},  {UC_X86_REG_RCX, UC_ARM64_REG_X0},  {UC_X86_REG_RDX, UC_ARM64_REG_X1},
        {UC_X86_REG_RBX, UC_ARM64_REG_X27}, {UC_X86_REG_RSP, UC_ARM64_REG_SP},  {UC_X86_REG_RBP, UC_ARM64_REG_X29},
        {UC_X86_REG_RSI, UC_ARM64_REG_X25}, {UC_X86_REG_RDI, UC_ARM64_REG_X26}, {UC_X86_REG_R8, UC_ARM64_REG_X2},
        {UC_X86_REG_R9, UC_ARM64_REG_X3},   {UC_X86_REG_R10, UC_ARM64_REG_X4},  {UC_X86_REG_R11, UC_ARM64_REG_X5},
        {UC_X86_REG_R12, UC_ARM64_REG_X19}, {UC_X86_REG_R13, UC_ARM64_REG_X20}, {UC_X86_REG_R14, UC_ARM64_REG_X21},
        {UC_X86_REG_R15, UC_ARM64_REG_X22},
    };
    for (int i = 0; i < 16; ++i) pairs.push_back({UC_X86_REG_XMM0 + i, UC_ARM64_REG_Q0 + i, 16});
    return pairs;
  }();
  return kPairs;
}

namespace {

void copy(uc_engine* from, uc_engine* to, bool x64ToArm64) {
  for (const EcRegisterPair& p : ecRegisters()) {
    uint8_t value[16] = {};
    uc_reg_read(from, x64ToArm64 ? p.x64 : p.arm64, value);
    uc_reg_write(to, x64ToArm64 ? p.arm64 : p.x64, value);
  }
}

}  // namespace

void copyX64ToArm64(const Engine& x64, const Engine& arm64) {
  copy(x64.get(), arm64.get(), true);
  // The TEB: x64 code reaches it through gs, Arm64EC code through x18.
  arm64.setReg(UC_ARM64_REG_X18, x64.reg(UC_X86_REG_GS_BASE));
}

void copyArm64ToX64(const Engine& arm64, const Engine& x64) { copy(arm64.get(), x64.get(), false); }

}  // namespace hph::hybrid
