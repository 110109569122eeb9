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
// Registers cross by the Arm64EC mapping (EcRegisters). One thread at a time (hph call,
// and `hph check`'s serial hybrid run, properties/HybridRun); threads scheduled across both
// engines are not built yet (docs/design.md, CHPE).
#pragma once

#include <cstdint>
#include <functional>
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
  // The call stopped before the first instruction it reached inside a probe: which (an
  // index into setProbes' ranges), and which engine was about to run it.
  std::optional<size_t> probe;
  bool probeOnArm64 = false;
};

// Who makes a call: x64 code (the x64 convention; an Arm64EC target is entered through
// its entry thunk) or Arm64EC code (x0-x7, x30 the return address; the target must be
// Arm64 code: Arm64EC code reaches x64 code only through the routines).
enum class Caller : uint8_t { kX64, kArm64ec };

// Where a call lands: the code it enters and the engine that runs it.
struct Landing {
  Caller runsAs = Caller::kX64;
  uint64_t address = 0;
};

// Loads the process's images into its machine: the main one, and anything around it (a
// patch layout: the hotpatch area, patch images).
using HybridLoader = std::function<Result<LoadedImage>(Machine&)>;

// A deliberately broken engine, for showing H4 fires: host writes to code are not
// forgotten by that engine's translations.
enum class StaleEngine : uint8_t { kNone, kX64, kArm64 };
class HybridProcess {
 public:
  // Loads `image` (which must have CHPE metadata) into a new process.
  static Result<std::unique_ptr<HybridProcess>> create(const PeImage& image, std::optional<uint64_t> base);
  // The same, with `load` putting the images in memory (it must load `image` as the main one).
  static Result<std::unique_ptr<HybridProcess>> create(const PeImage& image, const HybridLoader& load);
  ~HybridProcess();
  HybridProcess(const HybridProcess&) = delete;
  HybridProcess& operator=(const HybridProcess&) = delete;

  Machine& machine() { return *machine_; }
  const LoadedImage& loaded() const { return loaded_; }
  const Engine& arm64Engine() const { return arm64_; }

  // Calls `entry` as an x64 caller does (x64 convention, return to the sentinel): an
  // Arm64EC entry is entered through its entry thunk.
  Result<HybridCallResult> call(uint64_t entry, std::span<const uint64_t> args, const CallOptions& options = {});
  // Calls `entry` as `caller` does. An Arm64EC caller passes up to 8 arguments in x0-x7.
  Result<HybridCallResult> call(Caller caller, uint64_t entry, std::span<const uint64_t> args,
                                const CallOptions& options = {});

  // Another image with CHPE metadata, already in memory at `base` (a patch image): its code
  // map's pages go to their engines and its dispatch slots get the routines.
  Result<void> addHybridImage(const PeImage& image, uint64_t base);
  // Code outside any image (the hotpatch area), run by the engine of `kind`.
  Result<void> addCodePages(AddressRange range, Caller kind);
  // Is `address` on a page the Arm64 engine runs?
  bool isArm64Code(uint64_t address) const;

  // What the routines decide, for callers that are not in the image (the H1 checker):
  // - dispatch_call (a hybrid-patchable callee): its body while its x64 entry is the
  //   unmodified fast-forward sequence to that body, else the x64 entry;
  // - dispatch_icall: an Arm64 target directly, anything else as x64 code.
  Landing dispatchCallLanding(uint64_t x64Entry, uint64_t body) const;
  Landing icallLanding(uint64_t target) const;
  // Does the x64 code at `entry` still jump straight to `body` (an unmodified fast-forward
  // sequence)?
  bool fastForwardsTo(uint64_t entry, uint64_t body) const;

  // Calls stop before the first instruction they reach inside one of these ranges (on
  // either engine). Replaces earlier probes; set them before the code runs the first
  // time, as Unicorn weaves code hooks into its translations.
  Result<void> setProbes(std::vector<AddressRange> probes);
  // Which probes stop a call (by index; all by default): the hooks stay woven in.
  void activateProbes(std::vector<bool> active) { activeProbes_ = std::move(active); }

  // A host write to code: both engines forget what they translated from those bytes
  // (except the one `breakInvalidation` names, for the H4 canary).
  bool writeCode(uint64_t address, std::span<const uint8_t> bytes);
  void breakInvalidation(StaleEngine engine) { stale_ = engine; }

 private:
  enum class Side : uint8_t { kX64, kArm64 };
  struct Arm64Stop {
    enum class Kind : uint8_t { kFetch, kFault, kBudget, kProbe } kind = Kind::kFault;
    uint64_t address = 0;  // kFetch: where the engine could not fetch
    std::optional<GuestFault> fault;
    uint64_t instructions = 0;
  };

  class ProbeObserver final : public ExecutionObserver {
   public:
    explicit ProbeObserver(HybridProcess& process) : process_(process) {}
    bool beforeInstruction(uint64_t pc, uint32_t) override;
    void onDataAccess(uint64_t, uint32_t, bool) override {}

   private:
    HybridProcess& process_;
  };

  HybridProcess(std::unique_ptr<Machine> machine, const PeImage& image);
  Result<void> prepare(const HybridLoader& load);
  // The code map's pages of an image loaded at `base`, and its dispatch slots filled.
  Result<void> registerImage(const PeImage& image, uint64_t base, std::vector<AddressRange>& arm64Pages,
                             std::vector<AddressRange>& x64Pages);
  std::optional<size_t> probeAt(uint64_t address) const;
  Result<void> mapIntoArm64(const Region& region);
  Result<void> mapNewRegions();
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
  std::vector<AddressRange> probes_;
  std::vector<bool> activeProbes_;
  std::optional<size_t> probeHit_;  // set by either engine's hook when a probe is reached
  ProbeObserver probeObserver_{*this};
  StaleEngine stale_ = StaleEngine::kNone;
};

}  // namespace hph::hybrid
