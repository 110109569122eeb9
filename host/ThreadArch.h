// What the runner's threads do differently per architecture, behind one interface: the
// Windows calling convention into guest code, the TEB, the PC in a signal's saved context,
// where a breakpoint trap stopped, and what makes a code change visible to fetches.
// host/x64/ and host/arm64/ implement it; CMake builds the one of the runner's target
// (the native runner, and the aarch64 runner cross-built to run under qemu-aarch64).
#pragma once

#include <ucontext.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace hph::thread_arch {

// The jobs this runner runs: HostJob::arch.
extern const char* const kJobArch;

// Calls guest `entry(argument)` / `entry()` through the Windows calling convention.
uint64_t callGuest(uint64_t entry, uint64_t argument);
uint64_t callGuest(uint64_t entry);

// The ids a guest sees, as the emulator gives them (emu/core/Process.cpp): guest thread
// `index` is 0x100 + 4 * index; code outside any guest thread (the invariant, the
// counters) is thread 1 of process 0x1000.
inline constexpr uint64_t kProcessId = 0x1000;
inline constexpr uint64_t kOutsideThreadId = 1;
inline uint64_t guestThreadId(uint32_t index) { return 0x100 + 4 * uint64_t{index}; }

// Gives the calling thread a TEB of its own in `teb` (x64: GS base; Arm64: x18).
void installTeb(std::vector<uint8_t>& teb, uint64_t threadId);

// The TEB both architectures' Windows code reads: zeroed but for its self pointer (+0x30)
// and ClientId (process +0x40, thread +0x48). Returns its address, for installTeb to put
// where the architecture keeps it.
inline uint64_t layOutTeb(std::vector<uint8_t>& teb, uint64_t threadId) {
  constexpr size_t kTebBytes = 0x2000;
  teb.assign(kTebBytes, 0);
  const uint64_t self = reinterpret_cast<uint64_t>(teb.data());
  std::memcpy(teb.data() + 0x30, &self, 8);
  std::memcpy(teb.data() + 0x40, &kProcessId, 8);
  std::memcpy(teb.data() + 0x48, &threadId, 8);
  return self;
}

// A word of the calling thread's TEB (what installTeb put there).
uint64_t tebWord(uint32_t offset);

// Arm64 keeps the TEB in x18. The runner is built to leave x18 alone (-ffixed-x18), but
// the C library it links was not: callGuest puts the thread's TEB back in x18 before
// every call, and a native shim (which may call into the C library) keeps x18 for the
// guest it returns to with one of these. Nothing to do on x64 (GS base).
class TebKept {
 public:
  TebKept();
  ~TebKept();
  TebKept(const TebKept&) = delete;
  TebKept& operator=(const TebKept&) = delete;

 private:
  [[maybe_unused]] uint64_t saved_ = 0;  // only the Arm64 build keeps x18 in it
};

// Native functions guest code calls (NativeShims.cpp) use the guest's convention.
#if defined(__x86_64__)
#define HPH_GUEST_ABI __attribute__((ms_abi))
#else
#define HPH_GUEST_ABI
#endif

// An import stub slot (16 bytes, Machine::kShimSlotBytes): a jump to `target`, or an
// instruction that traps (an import the runner has no native shim for).
inline constexpr size_t kStubBytes = 16;
void writeJumpStub(uint8_t* slot, uint64_t target);
void writeTrapStub(uint8_t* slot);

uint64_t contextPc(const ucontext_t* context);
uint64_t contextSp(const ucontext_t* context);
// The link register (Arm64 x30), where a return address may be instead of the stack.
std::optional<uint64_t> contextLink(const ucontext_t* context);
void setContextPc(ucontext_t* context, uint64_t pc);
// The address of the breakpoint instruction a SIGTRAP with this context reports.
uint64_t trappedAt(const ucontext_t* context);

// Code bytes in [address, address + size) changed through the writable alias: what the
// plan's cache maintenance does here, so that fetches can see the new bytes.
void codeChanged(uint64_t address, uint64_t size);

}  // namespace hph::thread_arch
