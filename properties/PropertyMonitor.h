// The checkers of docs/design.md's properties over one run, fed by the scheduler (RunMonitor).
// Each property is a named check that reports the thread, PC, step and bytes involved:
//   FetchChecks.cpp  C1 boundaries, C2 resumed inside a changed span, C4 torn fetches,
//                    X3 transient-INT3 continuations
//   StoreChecks.cpp  X1/X2 (x64) and A1/A4 (Arm64) live-store rules, A2 visibility before
//                    a branch, C3 stop-the-world commit, C7 reuse while a thread is inside
//   CallChecks.cpp   C5 old/new order per thread, C6 entry state, C8 every call new at the end
// The state they share (what the code is now) is CodeState.
#pragma once

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "emu/core/Exercise.h"
#include "emu/core/RunMonitor.h"
#include "patch/Protocol.h"
#include "properties/CodeState.h"

namespace hph {

// C5 for functions declared pure: what the old and the new function return for these
// arguments, each run on its own from the same entry state (a scratch machine).
class ReferenceCalls {
 public:
  virtual ~ReferenceCalls() = default;
  // (old result, new result), or nullopt when either run failed.
  virtual std::optional<std::pair<uint64_t, uint64_t>> results(size_t site, const std::vector<uint64_t>& args) = 0;
};

// A pure site: where its direct callers resume (watched, so each call's result is seen).
struct PureSite {
  size_t site = 0;
  std::vector<uint64_t> returnSites;
};

struct PropertyOptions {
  // How the plan was built, as the checkers must know it. `reverse`: the plan ends by
  // unpatching, so calls after it must be old again and a thread may legitimately go from
  // new calls back to old ones. `idc`/`dic` (Arm64 CTR_EL0): IDC, no DC CVAU needed for
  // instruction fetch; DIC, no IC IVAU needed (fetch is coherent with data stores, so
  // nothing is pending after a store).
  ProtocolOptions protocol;
  // Arm64 fetch model (A3): a thread may fetch stale versions of a stored word until it
  // was made visible and the thread context-synchronised. `fetchCoherent`: a thread never
  // fetches a version older than one it already fetched there.
  bool fetchModel = true;
  bool fetchCoherent = true;
  std::vector<Property> ignore;  // properties not reported (to show another one fires)
  std::vector<PureSite> pure;
  ReferenceCalls* reference = nullptr;  // set with `pure`
};

class PropertyMonitor final : public RunMonitor {
 public:
  PropertyMonitor(const Arch& arch, std::vector<PatchSite> sites, Plan plan, PropertyOptions options);

  void runStarted(const Machine& machine, const Process& process) override;
  void beforeStore(size_t step, const StoreStep& store, uint64_t address, std::span<const uint8_t> bytes, bool first,
                   bool last) override;
  void afterStep(size_t step, const Step& what) override;
  void beforeInstruction(uint32_t thread, uint64_t pc, bool resumed) override;
  void onBreakpoint(uint32_t thread, uint64_t address, std::optional<uint64_t> continuation) override;
  void runFinished() override;
  std::optional<Violation> violation() const override { return violation_; }
  std::vector<uint32_t> fetchableVersions(uint32_t thread, uint64_t pc) override;
  void fetched(uint32_t thread, uint64_t pc, size_t version) override;
  void contextSynchronized(uint32_t thread) override;
  std::any saveRun() const override;
  void restoreRun(const std::any& saved) override;

  const Exercise& exercise() const { return exercise_; }
  const CodeState& code() const { return code_; }
  // Replacement entries: a scenario watches them so calls arriving there are seen.
  std::vector<uint64_t> replacementEntries() const;

 private:
  struct Call {
    std::optional<size_t> site;       // the patched function this call entered
    bool afterPlan = false;           // began after the plan's last step
    std::vector<uint8_t> entryState;  // C6: the entry-state registers at the original entry, back to back
    uint64_t entrySp = 0, entryReturn = 0;
  };
  struct ThreadFacts {
    size_t storesSeen = 0;              // storeLog_ entries this thread had seen when it last ran here
    std::optional<uint64_t> stoppedAt;  // the watched instruction it was last about to run
    Call call;
    // C5: once new, never old — per function: the entries of those it made a new call of
    // (a patch of several functions stores them one after another, so a thread may call
    // one new and another still old).
    std::vector<uint64_t> newCallsOf;
    size_t lastSync = 0;    // steps completed when it last context-synchronised
    struct PendingResult {  // C5: a call of a pure function, until it returns
      size_t site = 0;
      std::vector<uint64_t> args;
      uint64_t returnAddress = 0, sp = 0;
      int version = 0;  // 0 unknown, 1 old, 2 new
    };
    std::optional<PendingResult> pending;
    std::map<uint64_t, size_t> fetchedVersion;  // word -> newest version index it fetched
  };

  void report(Property property, ActorId actor, uint64_t pc, std::optional<size_t> step, std::string bytes,
              std::string message);
  std::string where(uint64_t address) const;
  std::string stepText(std::optional<size_t> step) const;
  ThreadFacts& thread(uint32_t index);

  // FetchChecks.cpp
  void checkFetch(uint32_t thread, uint64_t pc, bool resumed);
  // StoreChecks.cpp
  void checkStore(size_t step, const StoreStep& store);
  void checkLiveStoreX64(size_t step, const StoreStep& store);
  void checkLiveStoreArm64(size_t step, const StoreStep& store);
  void checkCommit(size_t step, const StoreStep& store);
  void checkReuse(size_t step, const StoreStep& store);
  void checkVisibleBeforeBranch(size_t step, const StoreStep& store);
  // CallChecks.cpp
  void checkCalls(uint32_t thread, uint64_t pc);
  void callResumed(uint32_t thread, uint64_t pc);
  void arriveAtReplacement(uint32_t thread, size_t site);
  // The running thread's entry-state registers, back to back (buffers are reused: this
  // runs at every call of a patched function).
  void readEntryState(std::vector<uint8_t>& out) const;
  void checkResult(uint32_t thread, uint64_t pc);

  const Arch& arch_;
  std::vector<PatchSite> sites_;
  Plan plan_;
  PropertyOptions options_;
  CodeState code_;
  const Machine* machine_ = nullptr;
  const Process* process_ = nullptr;

  // What one run established (runStarted resets it, saveRun copies it): code_ above and
  // the fields from here to threads_, listed once by runFields.
  template <class Monitor> static auto runFields(Monitor& monitor);
  std::optional<Violation> violation_;
  Exercise exercise_;
  bool suspended_ = false;
  bool planDone_ = false;
  size_t stepsDone_ = 0;
  std::optional<size_t> lastSync_;         // the step of the last sync-all
  std::map<uint64_t, size_t> int3Stores_;  // X1: where an int3 was stored, at which step
  std::vector<std::pair<size_t, std::pair<uint64_t, uint64_t>>> storeLog_;  // (step, [begin, end))
  std::map<uint32_t, ThreadFacts> threads_;
  std::vector<uint8_t> arrivalState_;  // C6 scratch
  // The length of the instruction at a pc, for the bytes it had when decoded: every
  // watched instruction is checked, and the code under them rarely changes.
  struct KnownLength {
    std::array<uint8_t, 16> bytes{};
    size_t size = 0;
    uint32_t length = 0;
  };
  std::unordered_map<uint64_t, KnownLength> lengths_;
  uint32_t lengthAt(uint64_t pc, std::span<const uint8_t> bytes);
};

}  // namespace hph
