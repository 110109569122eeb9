// The one interface behind which x64/ and arm64/ sit side by side (as in QBDI).
// Everything architecture-specific the emulator, the loader and `inspect` need goes
// through here: engines, calling conventions, decoding, hotpatchability of an entry.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "emu/core/Engine.h"
#include "support/Result.h"

namespace hph {

enum class ArchKind { kX64, kArm64 };

// Where control goes after an instruction (what liveness analysis follows).
enum class Flow : uint8_t {
  kNext,         // the next instruction only (indirect calls too: they come back)
  kJump,         // `target` only
  kConditional,  // `target` or the next instruction
  kCall,         // `target`, then the next instruction
  kEnd,          // nowhere we can follow: return, indirect jump, trap, invalid
};

struct DecodedInstruction {
  bool valid = false;
  uint32_t length = 0;  // bytes; 0 when invalid
  std::string text;     // "mov rax, rbx" / "add x0, x1, x2"; a ".byte"/".inst" line if invalid
  Flow flow = Flow::kEnd;
  uint64_t target = 0;  // kJump / kConditional / kCall
  // A PC-relative memory read (x64 [rip+d], Arm64 LDR literal): where and how wide.
  uint64_t dataRead = 0;
  uint32_t dataReadBytes = 0;
};

// What `inspect` reports about a function's entry as compiled.
struct EntryPatchability {
  bool hotpatchable = false;
  std::string firstInstruction;
  uint32_t firstInstructionLength = 0;
  uint32_t paddingBefore = 0;           // x64: int3/nop bytes directly before the entry
  bool aligned = true;                  // Arm64: entry on a 4-byte boundary
  bool concurrentlyModifiable = false;  // Arm64: first instruction in the CMODX set
  std::string reason;                   // why not, when not
};

// The state a guest call starts from.
struct CallFrame {
  uint64_t entry = 0;
  std::span<const uint64_t> args;  // at most kMaxCallArgs
  uint64_t stackTop = 0;           // highest usable stack address (exclusive)
  uint64_t returnAddress = 0;      // sentinel: reaching it ends the call
};

inline constexpr size_t kMaxCallArgs = 8;

// One register of the user-visible state, for differential execution: randomised before
// and compared after. `randomBits` masks what may be randomised (flags: only the
// condition bits; a set trap flag would change what runs).
struct StateRegister {
  int id = 0;  // Unicorn register id
  const char* name = "";
  uint32_t bytes = 8;  // 8, or 16 for vector registers
  uint64_t randomBits = ~uint64_t{0};
  // Bits that always read as 1 whatever is written (x64 RFLAGS bit 1, reserved): a
  // randomised value has them set, or the engine would not hold what was written.
  uint64_t fixedOnes = 0;
};

// A read-modify-write of one memory operand that hardware performs as a load and a later
// store which other cores can come between (x64 `inc [m]`, `add [m], r`, `xadd` without
// LOCK): where it writes and how many bytes.
struct SplittableAccess {
  uint64_t address = 0;
  uint32_t bytes = 0;
};

// Reads guest memory (code or a stack) for an analysis; false when it is not mapped.
using GuestRead = std::function<bool(uint64_t address, std::span<uint8_t> out)>;
// Will some plan step still store to code in [begin, end)?
using CodeChanges = std::function<bool(uint64_t begin, uint64_t end)>;

// An atomic add to a naturally aligned 8-byte word: x64 one LOCK add, sub, inc, dec or
// xadd; Arm64 an exclusive loop (arm64/ExclusiveAdd.h), which the scheduler runs as one
// transition. Two leave the word the same in either order.
struct AtomicAdd {
  uint64_t address = 0;  // the word
  uint64_t begin = 0;    // its first instruction
  uint64_t end = 0;      // the instruction after it (after the loop)
  bool covers(uint64_t pc) const { return pc >= begin && pc < end; }
};
// The most code an atomic add spans (Arm64's four-instruction loop; x64's longest
// instruction is 15 bytes).
inline constexpr size_t kAtomicAddBytes = 16;

// An instruction that reads and writes only its thread's registers, flags and PC: no
// memory (loads, stores, the stack), no call and no write to the stack pointer or the
// link register (return addresses are what PC moves and release look at), no system
// state, no context synchronisation. Nothing
// another actor does depends on when it runs: the scheduler needs no point before it
// (Scheduler, "visible points"), so long as where it goes next is known.
struct RegisterOnlyInstruction {
  std::optional<uint64_t> next;    // falls through to
  std::optional<uint64_t> target;  // branches to
  bool indirect = false;           // branches through a register (ret, br, jmp reg): anywhere
};

// The registers a result-liveness walk starts from: the stack pointer (x64 reads return
// addresses there) and the link register (Arm64 returns through it; 0 where calls push).
struct WalkRegisters {
  uint64_t sp = 0;
  uint64_t link = 0;
  bool operator==(const WalkRegisters&) const = default;
};

// The layout of an exception-directory (.pdata) entry, as the PE format defines it per
// machine: what the loader reads a function's extent from.
enum class RuntimeFunctionFormat : uint8_t {
  // 12 bytes: BeginAddress, EndAddress, UnwindInfo RVA (x64; low bit set: chained entry).
  kBeginEndUnwindInfo,
  // 8 bytes: BeginAddress, then packed unwind data (FunctionLength in 4-byte units) or an
  // .xdata RVA, told apart by the low two bits (Arm64).
  kBeginPackedUnwind,
};

// A one-byte breakpoint instruction: it can replace the first byte of any instruction by
// a single-byte store, which is always single-copy atomic (x64 int3, 0xCC). The trap
// leaves the PC just past it.
struct SingleByteBreakpoint {
  uint8_t opcode = 0;
  uint32_t interrupt = 0;  // the UC_HOOK_INTR number it raises
};

// What the layers above the backends ask instead of which architecture this is: each a
// fact of the architecture (or of Windows on it) that some rule depends on. A third
// backend slots in by answering them.
struct ArchFacts {
  // --- Instructions
  // Every instruction is this many bytes, at an address aligned to it (Arm64: 4), so
  // every aligned address is an instruction boundary; 0 when lengths vary (x64: 1 to 15
  // bytes), so boundaries are known only by decoding from a known instruction start.
  uint32_t fixedInstructionBytes = 0;
  // How many bytes of padding in a row end a function whose length has to be estimated
  // (no .pdata entry): x64 two int3 (a single one can be a __debugbreak() inside the
  // function); Arm64 one udf #0 word.
  uint32_t paddingProbeBytes = 1;
  RuntimeFunctionFormat runtimeFunctionFormat = RuntimeFunctionFormat::kBeginEndUnwindInfo;

  // --- Traps (UC_HOOK_INTR numbers)
  // nullopt when the architecture has no one-byte breakpoint (Arm64 BRK is a 4-byte word).
  std::optional<SingleByteBreakpoint> singleByteBreakpoint;
  // What executing an undefined encoding raises (x64 #UD, 6; Arm64 QEMU EXCP_UDEF, 1): an
  // invalid instruction, not just an exception.
  uint32_t undefinedInstructionInterrupt = 0;

  // --- Calls (the Windows calling convention)
  // Bytes a call pushes for its return address, so the return pops them: SP after the
  // return is SP at entry plus these (x64: 8); 0 when the return address goes in a
  // register (Arm64).
  uint32_t returnAddressStackBytes = 0;
  // The register a call leaves its return address in (Arm64 x30, the link register): a
  // thread may hold a return address there as well as on its stack. nullopt: calls push
  // it (x64).
  std::optional<int> linkRegister;
  // Integer arguments passed in registers; the rest go on the stack (Win64: 4, rcx rdx
  // r8 r9; AAPCS64: 8, x0-x7).
  uint32_t integerArgumentRegisters = 0;

  // --- Modifying code that runs
  // Instruction fetch is coherent with data stores: once a store is visible, every core
  // fetches the new bytes, without cache maintenance (x64). Where it is not (Arm64
  // without CTR_EL0.DIC), a core may fetch stale code until the store was made visible
  // by cache maintenance and the core context-synchronised: the fetch model (A3) and the
  // visible-before-branch rule (A2) apply.
  bool fetchCoherentWithStores = true;
  // The architecture permits changing code other cores may be executing only between a
  // named set of instructions, each by one aligned store of one instruction (Arm CMODX:
  // B, BL, BRK, HVC, ISB, NOP, SMC, SVC; rules A1/A4). false: any single-copy-atomic
  // store that replaces whole instructions is fetched whole, old or new, and a one-byte
  // breakpoint may go over any instruction (x64 cross-modifying code; rules X1/X2).
  bool concurrentModificationRestricted = false;
  // The instruction after which the executing thread fetches what was made visible
  // (Arm64 ISB). Empty where fetch is coherent with stores and nothing is modelled
  // (x64: the serialisation X1 asks for comes from the plan's sync-all).
  std::span<const uint8_t> contextSynchronizingInstruction;
};

class Arch {
 public:
  virtual ~Arch() = default;

  virtual ArchKind kind() const = 0;
  virtual std::string_view name() const = 0;  // "x64" | "arm64"
  virtual uint16_t peMachine() const = 0;     // IMAGE_FILE_MACHINE_*
  // The architectural facts rules depend on (above); constant for a backend.
  virtual const ArchFacts& facts() const = 0;

  virtual Result<Engine> openEngine() const = 0;
  // Granularity of Unicorn mappings for this architecture.
  virtual uint64_t pageSize() const = 0;

  virtual int pcRegister() const = 0;
  virtual int spRegister() const = 0;
  // General, flag and vector registers (not PC or SP).
  virtual std::span<const StateRegister> stateRegisters() const = 0;
  // What a call's entry state is made of besides SP and the return address: argument and
  // callee-saved registers (C6: a redirect must deliver them unchanged).
  virtual std::span<const StateRegister> entryStateRegisters() const = 0;

  // Sets registers and stack for a call with the platform convention (Win64 / AAPCS64).
  virtual Result<void> prepareCall(const Engine& engine, const CallFrame& frame) const = 0;
  virtual uint64_t returnValue(const Engine& engine) const = 0;
  virtual uint64_t argument(const Engine& engine, size_t index) const = 0;
  // The return address of a function that was just entered (x64 [rsp], Arm64 x30).
  virtual uint64_t returnAddress(const Engine& engine) const = 0;
  virtual void setReturnValue(const Engine& engine, uint64_t value) const = 0;
  // Points the thread-pointer register at a TEB (x64 GS base, Arm64 x18).
  virtual void setThreadPointer(const Engine& engine, uint64_t teb) const = 0;
  // Bytes of a plain return: shim stubs are this, run after the host sets the result.
  virtual std::span<const uint8_t> returnInstruction() const = 0;

  virtual DecodedInstruction decode(std::span<const uint8_t> bytes, uint64_t address) const = 0;
  // The instruction at `pc` (its bytes), about to run with the engine's registers: a
  // memory RMW that is not indivisible on real cores, or nullopt. LOCK-prefixed
  // instructions and XCHG with memory (locked implicitly) are indivisible; Arm64 has no
  // such instruction (its memory RMWs are single-copy-atomic LSE atomics).
  virtual std::optional<SplittableAccess> splittableAccess(const Engine& engine, std::span<const uint8_t> bytes,
                                                           uint64_t pc) const = 0;
  // Whether any instruction can be splittable (the scheduler skips the question if not).
  virtual bool hasSplittableAccesses() const = 0;
  // The code at `pc` (up to kAtomicAddBytes of it), about to run with the engine's
  // registers: an atomic add to a naturally aligned 8-byte word (AtomicAdd), or nullopt.
  // Two such adds to one word leave it the same in either order; they commute when their
  // other results are dead (atomicAddUnobserved).
  virtual std::optional<AtomicAdd> atomicAdd(const Engine& engine, std::span<const uint8_t> code,
                                             uint64_t pc) const = 0;
  // Whether any code can be one (the scheduler skips the question if not).
  virtual bool hasAtomicAdds() const = 0;
  // For such an add at `pc` (its code), the thread's registers `at` as they are there:
  // does the thread never observe the registers and flags it leaves (x64/ResultLiveness.h,
  // arm64/ResultLiveness.h), following only code no pending plan step changes
  // (`willChange`)? Reads guest memory only through `read`, so the answer can be
  // remembered with what it read.
  virtual bool atomicAddUnobserved(std::span<const uint8_t> code, uint64_t pc, const WalkRegisters& at,
                                   const GuestRead& read, const CodeChanges& willChange) const = 0;
  // The instruction at the start of `bytes` (at `pc`), when it is register-only; nullopt
  // for anything else, and for whatever the decoder does not know.
  virtual std::optional<RegisterOnlyInstruction> registerOnly(std::span<const uint8_t> bytes, uint64_t pc) const = 0;
  // Number of instructions in a straight-line block (the budget counts these).
  virtual uint32_t countInstructions(std::span<const uint8_t> block) const = 0;
  // A guest interrupt/exception number from UC_HOOK_INTR, as words.
  virtual std::string describeInterrupt(uint32_t number) const = 0;
  // Does the end of this code look like padding (x64 int3/nop, Arm64 udf #0)?
  virtual bool isPadding(std::span<const uint8_t> bytes) const = 0;
  // Whether indirect branches into this function must land on a landing-pad instruction,
  // judged from its code: then a trampoline may not return into it by an indirect branch
  // that lands elsewhere. Arm64: code compiled for BTI starts with `bti` (Windows maps its
  // pages guarded). x64: never (Windows does not enforce CET indirect-branch tracking in
  // user mode).
  virtual bool branchTargetsEnforced(std::span<const uint8_t> functionCode) const = 0;

  virtual EntryPatchability entryPatchability(std::span<const uint8_t> before, std::span<const uint8_t> entry,
                                              uint64_t entryAddress) const = 0;
};

// The two backends; defined in emu/x64 and emu/arm64.
const Arch& x64Arch();
const Arch& arm64Arch();
// By PE machine (0x8664, 0xAA64); nullptr when neither.
const Arch* archForPeMachine(uint16_t machine);
const Arch* archByName(std::string_view name);
const Arch& archOf(ArchKind kind);

}  // namespace hph
