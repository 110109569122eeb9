// A Machine is one emulated process: an address space, the engine that runs it, the
// modules loaded into it and the shims their imports are bound to. It is the context
// object passed around instead of globals (as lld's COFFLinkerContext).
//
// It runs whatever context is loaded in the engine until something happens that the
// caller must decide about (run()); guest threads and scheduling are built on that.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "emu/core/AddressSpace.h"
#include "emu/core/Arch.h"
#include "emu/core/Engine.h"
#include "emu/core/GuestFault.h"
#include "emu/core/RunWatchdog.h"
#include "emu/core/ShimLibrary.h"
#include "emu/core/ThreadServices.h"
#include "support/Result.h"

namespace hph {

struct AddressRange {
  uint64_t begin = 0;
  uint64_t end = 0;  // exclusive
  bool contains(uint64_t a) const { return a >= begin && a < end; }
  bool overlaps(uint64_t b, uint64_t e) const { return b < end && begin < e; }
};

struct CallOptions {
  // Stops runaway guests; counted in instructions (x64 blocks are decoded once to count).
  uint64_t instructionBudget = 100'000'000;
  // Unicorn 2.0.1 keeps PC exact per instruction only where a code hook is installed
  // (unicorn#2040); elsewhere a memory fault reports its block's start. This installs a
  // no-op code hook over all memory for the call: exact fault PCs, ~4x slower.
  bool precisePc = false;
  // The stack to run on (its top); none: the machine's own. An exploration's invariant
  // runs on a thread's, which restore compares anyway, instead of the machine's 1 MiB.
  std::optional<uint64_t> stackTop = {};
};

struct CallResult {
  uint64_t value = 0;         // the full 64-bit return register
  uint64_t instructions = 0;  // instructions executed by this call
  std::optional<GuestFault> fault;
  bool timedOut = false;  // fast mode only: outlived budget / kMaxInstructionsPerSecond
  bool completed() const { return !fault && !timedOut; }
};

// Why Machine::run() returned.
enum class StopKind {
  kReturned,  // reached the return sentinel: the outermost function returned
  kYielded,   // the observer asked to stop before an instruction (it has not run)
  kBlocked,   // a shim cannot complete yet (WaitForSingleObject on a running thread)
  kFault,     // guest fault or budget exhausted
  kError,     // bad input discovered while running (an import with no shim)
  kTimeout,   // fast mode: the run outlived its wall-time deadline (see RunWatchdog)
};

struct RunStop {
  StopKind kind = StopKind::kReturned;
  uint64_t instructions = 0;
  std::optional<GuestFault> fault;
  std::optional<Error> error;
};

// Told about what the guest does in the ranges it asked for (the scheduler).
class ExecutionObserver {
 public:
  virtual ~ExecutionObserver() = default;
  // Before an instruction in a watched range runs. true: stop before it (kYielded).
  virtual bool beforeInstruction(uint64_t pc, uint32_t size) = 0;
  // A data access inside a tracked range.
  virtual void onDataAccess(uint64_t address, uint32_t size, bool write) = 0;
  // x64 int3 at `address`: where the thread continues (int3-3step's transient breakpoint),
  // or nullopt for a real breakpoint (a fault).
  virtual std::optional<uint64_t> onBreakpoint(uint64_t address) { return std::nullopt; }
  // A shim ran: it may read and write state no footprint sees (the virtual clock, a
  // thread's exit state, memory it writes for the guest).
  virtual void onShimCall() {}
};

struct LoadedModule {
  std::string name;
  uint64_t base = 0;
  uint64_t size = 0;
  std::string path = {};  // the image file, for messages that must name the file
};

// Guest memory as it was at one moment; restore() puts it back.
struct MemorySnapshot {
  std::vector<std::vector<uint8_t>> bytes;  // per region, in AddressSpace order
  // Per region, per page: all zero in the snapshot (stacks, mostly). Restoring such a page
  // reads it and writes only when the run dirtied it, instead of copying it.
  std::vector<std::vector<bool>> zeroPages;
  uint64_t instructionsRetired = 0;
  uint64_t shimCalls = 0;  // the virtual clock shims read
  uint32_t lastError = 0;
  uint64_t id = 0;  // which snapshot of its machine (copies share it): see Machine::suspect_
};

// Guest memory at one moment, as the pages that differ from a base snapshot: a run's
// checkpoint, when most of memory is as the run found it.
struct MemoryDelta {
  struct Page {
    uint32_t region = 0;  // in AddressSpace order
    uint64_t offset = 0;
  };
  std::vector<Page> pages;     // ascending
  std::vector<uint8_t> bytes;  // the pages' bytes, back to back
  uint64_t instructionsRetired = 0;
  uint64_t shimCalls = 0;
  uint32_t lastError = 0;
};

class Machine {
 public:
  // Fixed places in every guest address space, far above any image base. The sentinel
  // return address lies on a page that holds no code: Unicorn discards the block holding
  // `until - 1` at the end of every run, so that block must never be hot code.
  static constexpr uint64_t kShimBase = 0x7FFE'0000'0000;
  static constexpr uint64_t kShimSlotBytes = 16;
  static constexpr uint64_t kShimSlots = 4096;
  static constexpr uint64_t kSentinelPage = 0x7FFF'0000'0000;
  static constexpr uint64_t kReturnSentinel = kSentinelPage + 0x800;
  static constexpr uint64_t kStackBase = 0x7FFD'0000'0000;
  static constexpr uint64_t kStackBytes = 1 << 20;
  static constexpr uint64_t kProcessId = 0x1000;
  static constexpr uint64_t kMainThreadId = 1;
  // How many forgotten code pages an engine may translate anew before it is renewed
  // between two runs (at ~9 KB of translations a page measured: some 40 MB per engine).
  static constexpr uint64_t kForgottenPagesPerEngine = 4096;

  static Result<std::unique_ptr<Machine>> create(const Arch& arch);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  const Arch& arch() const { return arch_; }
  const Engine& engine() const { return engine_; }
  AddressSpace& memory() { return memory_; }
  const AddressSpace& memory() const { return memory_; }

  // A zeroed region mapped into the engine.
  Result<Region*> map(uint64_t base, uint64_t size, uint32_t permissions, std::string name);
  // Data access through the engine's view of memory; false when unmapped.
  bool readGuest(uint64_t address, std::span<uint8_t> out) const;
  // The instruction at pc context-synchronises the thread that runs it (Arm64 ISB;
  // ArchFacts::contextSynchronizingInstruction).
  bool contextSynchronizingAt(uint64_t pc) const;
  bool writeGuest(uint64_t address, std::span<const uint8_t> bytes) const;
  // A host write to code: the engine forgets what it translated from those bytes.
  bool writeCode(uint64_t address, std::span<const uint8_t> bytes);

  void addModule(LoadedModule module) { modules_.push_back(std::move(module)); }
  const std::vector<LoadedModule>& modules() const { return modules_; }
  // "basics.x64.dll+0x1020", "shim kernel32.dll!Sleep", or "" when nowhere known.
  std::string symbolize(uint64_t address) const;
  // "0x180001020 (basics.x64.dll+0x1020)", or just the address.
  std::string describeAddress(uint64_t address) const;
  std::string disassembleAt(uint64_t pc) const;

  // The stub address an import slot should hold; the same import gets the same stub.
  Result<uint64_t> bindImport(std::string_view dll, std::string_view function);
  struct BoundImport {
    uint64_t stub = 0;
    std::string dll;
    std::string function;
  };
  // Every import bound so far, with its stub (what the on-host runner fills natively).
  std::vector<BoundImport> boundImports() const;

  // Runs entry(args...) on the machine's own stack to completion, a fault, or the budget.
  // Errors (not faults) are reserved for bad input and harness failures.
  Result<CallResult> call(uint64_t entry, std::span<const uint64_t> args, const CallOptions& options = {});

  // Runs the context loaded in the engine from its PC until it returns to the sentinel,
  // the observer stops it, a shim blocks, it faults, or `budget` instructions ran
  // (counting mode) / the deadline passed (fast mode).
  RunStop run(uint64_t budget, std::optional<RunWatchdog::Clock::time_point> deadline = std::nullopt);

  // Counting mode (the default) counts every instruction with a block hook: exact budgets,
  // traces with instruction timestamps. Fast mode has no block hook and runs at close to
  // raw Unicorn speed; runs are bounded by wall time instead (RunWatchdog).
  void setInstructionCounting(bool on);
  bool countingInstructions() const { return blockHook_ != 0; }
  // Exact PCs for faults (see CallOptions::precisePc), for runs that will be reported.
  void setPrecisePc(bool on);

  // Instructions in these ranges are reported to the observer before they run; an empty
  // range list with `everywhere` set means every instruction. Replaces earlier ranges.
  Result<void> watchInstructions(const std::vector<AddressRange>& ranges, bool everywhere);
  // Is an instruction at this address reported to the observer?
  bool watches(uint64_t address) const;
  // Loads and stores in these ranges are reported to the observer.
  Result<void> trackDataAccesses(const std::vector<AddressRange>& ranges);
  void setObserver(ExecutionObserver* observer) { observer_ = observer; }
  void setThreadServices(ThreadServices* threads) { threads_ = threads; }
  ThreadServices* threadServices() const { return threads_; }

  MemorySnapshot snapshot() const;
  // How many times restore() replaced the engine by a fresh one (renewEngine).
  uint64_t engineRenewals() const { return renewals_; }
  // Puts memory back (regions mapped after the snapshot are zeroed) and drops the
  // translations of every code page that changed, so nothing of one schedule leaks into
  // the next.
  void restore(const MemorySnapshot& snapshot);
  // Memory now, against `base` (the snapshot runs start from); restore(base, delta) puts
  // it back. The machine's own call stack is left out: only call() writes it, and restore
  // puts it back to base. Pages the guest cannot write (code, read-only data, shims) are
  // compared only where the host wrote since they last matched `base` (writeGuest,
  // writeCode) or a delta put other bytes: comparing all of memory was a tenth of an
  // exploration's time.
  MemoryDelta delta(const MemorySnapshot& base) const;
  void restore(const MemorySnapshot& base, const MemoryDelta& delta);

  // State the shims read and write.
  uint64_t currentThreadId() const { return threads_ ? threads_->currentThreadId() : kMainThreadId; }
  uint64_t instructionsRetired() const { return instructionsRetired_; }
  // Virtual time for the shims: one tick per shim call, the same in both modes.
  uint64_t virtualClock() const { return shimCalls_; }
  // Per thread, as on Windows (the machine's own when no threads run).
  uint32_t lastError() const { return threads_ ? threads_->lastError() : lastError_; }
  void setLastError(uint32_t value) {
    if (threads_)
      threads_->setLastError(value);
    else
      lastError_ = value;
  }

 private:
  struct ImportBinding {
    std::string dll;
    std::string function;
    const ShimFunction* shim = nullptr;  // nullptr: unresolved, refused when called
  };
  // x64 blocks are decoded once to count their instructions; a direct-mapped cache keeps
  // that off the hot path.
  struct BlockCount {
    uint64_t address = ~uint64_t{0};
    uint32_t size = 0;
    uint32_t count = 0;
    uint64_t generation = 0;  // valid only while it equals blockGeneration_
  };

  Machine(const Arch& arch, Engine engine);
  Result<void> installHooks();
  Result<void> installWatchHooks();
  // Maps a region's host bytes into an engine (uc_mem_map_ptr).
  static Result<void> mapInto(const Engine& engine, const Region& region);
  Result<void> installDataHooks();
  // Replaces the engine by a fresh one over the same memory, with the same hooks: the
  // only way to give back the translation buffer's memory (see forgottenPages_).
  Result<void> renewEngine();
  void forgetAllCode();
  void removeHooks(std::vector<uc_hook>& hooks);
  uint32_t instructionsInBlock(uint64_t address, uint32_t size);
  GuestFault faultAt(FaultKind kind, uint64_t pc, uint64_t address, std::string detail) const;
  void stopWith(StopKind kind);
  void uncountFrom(uint64_t pc);

  static void onEveryInstruction(uc_engine*, uint64_t address, uint32_t, void* user);
  static void onBlock(uc_engine* uc, uint64_t address, uint32_t size, void* user);
  static void onShim(uc_engine* uc, uint64_t address, uint32_t size, void* user);
  static void onWatched(uc_engine* uc, uint64_t address, uint32_t size, void* user);
  static void onData(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value, void* user);
  static bool onMemoryFault(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value, void* user);
  static void onInterrupt(uc_engine* uc, uint32_t number, void* user);

  const Arch& arch_;
  Engine engine_;
  AddressSpace memory_;
  std::vector<LoadedModule> modules_;
  std::vector<ImportBinding> imports_;
  ExecutionObserver* observer_ = nullptr;
  ThreadServices* threads_ = nullptr;
  std::vector<uc_hook> watchHooks_;
  std::vector<AddressRange> watched_;  // merged; {1, 0}: everywhere
  uc_hook blockHook_ = 0;
  uc_hook preciseHook_ = 0;
  std::unique_ptr<RunWatchdog> watchdog_;
  std::vector<uc_hook> dataHooks_;

  // State of the current run().
  uint64_t budget_ = 0;
  // With exact PCs: the instruction inside the current block that the budget does not
  // cover; the code hook stops there, so a budget fault names it, not the block's start.
  std::optional<uint64_t> budgetStopPc_;
  uint64_t executedThisRun_ = 0;
  std::optional<StopKind> stopKind_;
  std::optional<GuestFault> fault_;
  std::optional<Error> error_;
  std::optional<GuestFault> memoryFault_;  // from the unmapped/protection hook

  uint64_t instructionsRetired_ = 0;
  uint64_t shimCalls_ = 0;
  std::vector<BlockCount> blockCounts_;
  // Code changes forget every cached count at once (no 128 KiB fill per patch store).
  uint64_t blockGeneration_ = 1;
  // Code pages forgotten since the engine was opened. Unicorn translates a forgotten
  // page's blocks anew into fresh space of its 1 GB translation buffer and reclaims none
  // until that fills; its flush (uc_ctl_flush_tlb) then touches the whole buffer (measured
  // in 2.0.1: 2.5 s, +1 GB resident). Without a bound the process grows ~9 KB a schedule.
  uint64_t forgottenPages_ = 0;
  Region* callStack_ = nullptr;        // call()'s stack
  mutable bool callStackUsed_ = true;  // call() ran on it (or the host wrote it) since restore put it back
  // Per region, per page, of pages the guest cannot write: may differ from the snapshot
  // `suspectFor_` (an id; 0: none). Written by const writeGuest, hence mutable.
  mutable std::vector<std::vector<bool>> suspect_;
  mutable uint64_t suspectFor_ = 0;
  mutable uint64_t snapshots_ = 0;
  void hostWrote(uint64_t address, uint64_t size) const;
  // May page `p` of region `i` differ from base (the snapshot suspect_ is for)?
  bool mayDiffer(size_t i, uint64_t p, const MemorySnapshot& base) const;
  std::vector<AddressRange> tracked_;  // data ranges hooked
  std::optional<Error> renewalFailed_;
  uint64_t renewals_ = 0;
  AddressRange lastBlock_;  // the block the block hook charged last
  uint32_t lastError_ = 0;
};

}  // namespace hph
