// A hybrid process: an image holding x64 and Arm64EC code (its CHPE code map) in one
// address space, run by two engines over the same memory: the Machine's x64 engine and an
// Arm64 engine mapping the Machine's regions (uc_mem_map_ptr on both, AddressSpace).
//
// Each engine may execute only its own kind of code: the other kind's pages are not
// executable there, so control reaching them stops that engine with a fetch fault at the
// target. The process then does what Windows' emulator does at that boundary:
// - x64 code entering Arm64EC code calls the function's entry thunk (named by the word at
//   function-4) with x9 = the function; the thunk returns through dispatch_ret;
// - x64 code returning to Arm64EC code (into an exit thunk that called it through
//   dispatch_call_no_redirect) resumes the Arm64 engine there;
// - Arm64EC code calls the __os_arm64x_* routines (Arm64xRoutines) through its dispatch
//   slots: they are implemented here.
// Registers cross by the Arm64EC mapping (EcRegisters). One thread (hph call); threads,
// scheduling and patching across both engines are not built yet (docs/design.md, CHPE).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "emu/core/Machine.h"
#include "emu/hybrid/Arm64xRoutines.h"
#include "emu/pe/ImageLoader.h"

namespace hph::hybrid {

struct HybridCallResult {
  CallResult call;
  uint64_t crossings = 0;               // times control went from one engine to the other
  std::vector<Arm64xRoutine> routines;  // the routines called, in order
};

class HybridProcess {
 public:
  // Loads `image` (which must have CHPE metadata) into a new process.
  static Result<std::unique_ptr<HybridProcess>> create(const PeImage& image, std::optional<uint64_t> base);
  ~HybridProcess();
  HybridProcess(const HybridProcess&) = delete;
  HybridProcess& operator=(const HybridProcess&) = delete;

  Machine& machine() { return *machine_; }
  const LoadedImage& loaded() const { return loaded_; }
  const Engine& arm64Engine() const { return arm64_; }

  // Calls `entry` as an x64 caller does (x64 convention, return to the sentinel): an
  // Arm64EC entry is entered through its entry thunk.
  Result<HybridCallResult> call(uint64_t entry, std::span<const uint64_t> args, const CallOptions& options = {});

  // A host write to code: both engines forget what they translated from those bytes.
  bool writeCode(uint64_t address, std::span<const uint8_t> bytes);

 private:
  enum class Side : uint8_t { kX64, kArm64 };
  struct Arm64Stop {
    enum class Kind : uint8_t { kFetch, kFault, kBudget } kind = Kind::kFault;
    uint64_t address = 0;  // kFetch: where the engine could not fetch
    std::optional<GuestFault> fault;
    uint64_t instructions = 0;
  };

  HybridProcess(std::unique_ptr<Machine> machine, const PeImage& image);
  Result<void> prepare(std::optional<uint64_t> base);
  Result<void> mapIntoArm64(const Region& region);
  Result<void> mapNewRegions();
  bool isArm64Code(uint64_t address) const;
  bool isX64Code(uint64_t address) const;
  Arm64Stop runArm64(uint64_t budget);
  GuestFault arm64Fault(FaultKind kind, uint64_t pc, uint64_t address, std::string detail) const;
  // x64 code reached Arm64EC code at `target`: a return into an exit thunk, or a call.
  std::optional<GuestFault> enterArm64(uint64_t target);
  // Arm64EC code called a routine; nullopt when it continues, else the fault.
  std::optional<GuestFault> runRoutine(Arm64xRoutine routine, Side& side);

  static bool onArm64Memory(uc_engine*, uc_mem_type type, uint64_t address, int, int64_t, void* user);
  static void onArm64Interrupt(uc_engine* uc, uint32_t number, void* user);
  static void onArm64Code(uc_engine* uc, uint64_t address, uint32_t size, void* user);

  std::unique_ptr<Machine> machine_;
  const PeImage& image_;
  LoadedImage loaded_;
  Engine arm64_;
  size_t regionsMapped_ = 0;
  // Pages whose code each engine may execute (by the code map, rounded out to pages).
  std::vector<AddressRange> arm64Pages_, x64Pages_;
  // Exit thunks waiting for the x64 code they called to return: its return address, and
  // the stack pointer it returns with.
  struct PendingReturn {
    uint64_t address = 0;
    uint64_t sp = 0;
  };
  std::vector<PendingReturn> pendingReturns_;
  // The Arm64 engine's last stop, as its hooks saw it.
  std::optional<std::pair<uc_mem_type, uint64_t>> arm64Memory_;
  std::optional<uint32_t> arm64Interrupt_;
  uint64_t arm64Executed_ = 0, arm64Budget_ = 0;
  uint64_t lastArm64Pc_ = 0;  // the last Arm64 instruction that began to run
};

}  // namespace hph::hybrid
