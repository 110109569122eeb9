#include "host/ThreadArch.h"

#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace hph::thread_arch {
namespace {

using GuestEntry = uint64_t(__attribute__((ms_abi)) *)(uint64_t);
using GuestCall = uint64_t(__attribute__((ms_abi)) *)();

}  // namespace

const char* const kJobArch = "x64";

uint64_t callGuest(uint64_t entry, uint64_t argument) { return reinterpret_cast<GuestEntry>(entry)(argument); }
uint64_t callGuest(uint64_t entry) { return reinterpret_cast<GuestCall>(entry)(); }

// Windows x64 finds its TEB at gs:0x30 (self), stack base/limit at gs:0x08/0x10.
void installTeb(std::vector<uint8_t>& teb, uint64_t threadId) {
  const uint64_t self = layOutTeb(teb, threadId);
  syscall(SYS_arch_prctl, ARCH_SET_GS, self);
}

TebKept::TebKept() = default;
TebKept::~TebKept() = default;

uint64_t tebWord(uint32_t offset) {
  uint64_t value;
  asm volatile("movq %%gs:(%1), %0" : "=r"(value) : "r"(uint64_t{offset}));
  return value;
}

uint64_t contextPc(const ucontext_t* c) { return static_cast<uint64_t>(c->uc_mcontext.gregs[REG_RIP]); }
uint64_t contextSp(const ucontext_t* c) { return static_cast<uint64_t>(c->uc_mcontext.gregs[REG_RSP]); }
std::optional<uint64_t> contextLink(const ucontext_t*) { return std::nullopt; }
void setContextPc(ucontext_t* c, uint64_t pc) { c->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(pc); }

// x86-64 reports the int3 trap with the PC past the one-byte instruction.
uint64_t trappedAt(const ucontext_t* c) { return contextPc(c) - 1; }

// movabs rax, target; jmp rax (rax is volatile in the Windows x64 convention).
void writeJumpStub(uint8_t* slot, uint64_t target) {
  const uint8_t code[] = {0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe0};
  std::memset(slot, 0xcc, kStubBytes);
  std::memcpy(slot, code, sizeof code);
  std::memcpy(slot + 2, &target, 8);
}

// ud2: SIGILL at the slot, which hph names by its import.
void writeTrapStub(uint8_t* slot) {
  std::memset(slot, 0xcc, kStubBytes);
  slot[0] = 0x0f;
  slot[1] = 0x0b;
}

// Instruction fetch is coherent with stores on x86-64: nothing to do.
void codeChanged(uint64_t address, uint64_t size) {
  auto* from = reinterpret_cast<char*>(address);
  __builtin___clear_cache(from, from + size);
}

}  // namespace hph::thread_arch
