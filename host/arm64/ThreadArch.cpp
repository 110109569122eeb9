#include "host/ThreadArch.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace hph::thread_arch {
namespace {

// AAPCS64 passes the first integer arguments in x0-x7 and returns in x0, as Windows on
// Arm64 does; the one difference, x18, the runner is built to leave alone (-ffixed-x18).
using GuestEntry = uint64_t (*)(uint64_t);
using GuestCall = uint64_t (*)();

}  // namespace

const char* const kJobArch = "arm64";

// The calling thread's TEB, for callGuest to put back in x18 (see TebKept).
static thread_local uint64_t tebSelf = 0;

static void restoreTeb() {
  if (tebSelf) asm volatile("mov x18, %0" : : "r"(tebSelf) : "memory");
}

uint64_t callGuest(uint64_t entry, uint64_t argument) {
  restoreTeb();
  return reinterpret_cast<GuestEntry>(entry)(argument);
}
uint64_t callGuest(uint64_t entry) {
  restoreTeb();
  return reinterpret_cast<GuestCall>(entry)();
}

TebKept::TebKept() { asm volatile("mov %0, x18" : "=r"(saved_)); }
TebKept::~TebKept() { asm volatile("mov x18, %0" : : "r"(saved_) : "memory"); }

// Windows on Arm64 keeps the TEB in x18 (self pointer at +0x30, as on x64).
void installTeb(std::vector<uint8_t>& teb, uint64_t threadId) {
  const uint64_t self = layOutTeb(teb, threadId);
  tebSelf = self;
  asm volatile("mov x18, %0" : : "r"(self));
}

uint64_t tebWord(uint32_t offset) {
  uint64_t value;
  asm volatile("ldr %0, [x18, %1]" : "=r"(value) : "r"(uint64_t{offset}));
  return value;
}

// ldr x16, #8; br x16; .quad target (x16, IP0, is free to clobber at a call).
void writeJumpStub(uint8_t* slot, uint64_t target) {
  const uint32_t code[] = {0x58000050, 0xd61f0200};
  std::memcpy(slot, code, sizeof code);
  std::memcpy(slot + 8, &target, 8);
}

// udf #0: SIGILL at the slot, which hph names by its import.
void writeTrapStub(uint8_t* slot) { std::memset(slot, 0, kStubBytes); }

uint64_t contextPc(const ucontext_t* c) { return c->uc_mcontext.pc; }
uint64_t contextSp(const ucontext_t* c) { return c->uc_mcontext.sp; }
std::optional<uint64_t> contextLink(const ucontext_t* c) { return c->uc_mcontext.regs[30]; }
void setContextPc(ucontext_t* c, uint64_t pc) { c->uc_mcontext.pc = pc; }

// BRK reports the PC of the breakpoint itself.
uint64_t trappedAt(const ucontext_t* c) { return contextPc(c); }

// The plan's cache maintenance (DC CVAU, IC IVAU over the range). Under qemu-user that is
// not enough: its translator does not see a store made through another mapping, and guest
// IC IVAU does not invalidate what it translated (measured with qemu-aarch64 7.2). A store
// through the guest's own view does: qemu write-protects pages it translated from and
// drops their translations when a guest store lands. So each changed word is stored again,
// with the value it already holds (one aligned 4-byte store: what a fetch may see is the
// same), through the guest view made writable for the moment. On hardware this is a
// harmless second store of the same bytes.
void codeChanged(uint64_t address, uint64_t size) {
  auto* from = reinterpret_cast<char*>(address);
  __builtin___clear_cache(from, from + size);
  // The tests' broken case: cache maintenance as on hardware alone, to show what
  // qemu-aarch64 then keeps running (hph onhost's stale-code check sees it).
  static const bool hardwareOnly = std::getenv("HPH_TEST_HARDWARE_CACHE_MAINTENANCE_ONLY") != nullptr;
  if (hardwareOnly) return;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t first = address & ~(page - 1), end = (address + size + page - 1) & ~(page - 1);
  auto* pages = reinterpret_cast<void*>(first);
  if (mprotect(pages, end - first, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) return;
  for (uint64_t at = address & ~uint64_t{3}; at < address + size; at += 4) {
    auto* word = reinterpret_cast<uint32_t*>(at);
    __atomic_store_n(word, __atomic_load_n(word, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
  }
  mprotect(pages, end - first, PROT_READ | PROT_EXEC);
  __builtin___clear_cache(from, from + size);
}

}  // namespace hph::thread_arch
