// What the checkers know about the code a plan touches, as the run changes it: the
// original bytes and instruction boundaries, what each store wrote, the store in flight
// (some atomic pieces written, some not), and, on Arm64, which stored words have been
// made visible to instruction fetch by cache maintenance.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "emu/core/Arch.h"
#include "patch/CodeImage.h"
#include "patch/Protocol.h"

namespace hph {

class CodeState {
 public:
  // Tracked: each site's padding (the bytes before it) and function, and its hotpatch area.
  CodeState(const Arch& arch, const std::vector<PatchSite>& sites, bool dataCacheCoherent,
            bool instructionCacheCoherent);

  void reset();  // back to the original bytes (every run starts there)

  bool tracked(uint64_t address) const;
  std::optional<uint8_t> byteAt(uint64_t address) const;  // as memory holds it now
  std::vector<uint8_t> bytesAt(uint64_t address, size_t size) const;
  // The same without a copy: valid until the next store.
  std::span<const uint8_t> viewAt(uint64_t address, size_t size) const;
  bool modified(uint64_t address) const;  // differs in origin: written by some store

  // A piece of a store: written now. The first piece of a store opens it "in flight".
  void beginStore(size_t step, uint64_t address, uint64_t size);
  void writePiece(uint64_t address, std::span<const uint8_t> bytes);
  void endStore();
  // [begin, end) of the store with pieces still missing, when there is one.
  std::optional<std::pair<uint64_t, uint64_t>> inFlight() const;
  std::optional<size_t> inFlightStep() const { return inFlightStep_; }

  // Instruction starts of the code in memory now: an original instruction whose bytes are
  // all unchanged, or one decoded from a store's anchor across the bytes stores changed.
  // Returns the instruction's length when `pc` is such a start.
  std::optional<uint32_t> boundaryAt(uint64_t pc) const;
  std::optional<uint32_t> originalLength(uint64_t pc) const;  // original instruction at pc
  // C1: pc is no instruction start of the code in memory now, as far as anyone can tell:
  // the bytes there were changed by a store, or pc lies inside a known instruction.
  // (Code nobody decoded and nothing changed, like the tail of the previous function in
  // the padding window, is not judged.)
  bool misplaced(uint64_t pc, uint32_t length) const;

  // Arm64 visibility: a stored word is pending until cache maintenance covers it (with
  // CTR_EL0.DIC set, instruction fetch is coherent and nothing is pending).
  // Makes the words in the range visible when what CTR_EL0 requires was done: DC CVAU
  // (unless IDC) and IC IVAU (unless DIC).
  void cacheMaintenance(uint64_t address, uint64_t size, bool cleanData = true, bool invalidateInstructions = true);
  bool pending(uint64_t address, uint64_t size) const;
  // The last step that stored to the word at address (4-byte aligned), and its history:
  // (bytes, step made visible or nullopt) oldest first; the original is the first version.
  struct Version {
    uint32_t word = 0;
    // Made visible once this many steps had completed (cache maintenance over it, or the
    // store itself with DIC); 0 for the original; nullopt: not yet.
    std::optional<size_t> visibleAt;
    size_t storedAt = 0;
  };
  const std::vector<Version>* versions(uint64_t wordAddress) const;
  void setStep(size_t step) { step_ = step; }

 private:
  void recomputeNewBoundaries();
  std::optional<uint32_t> originalWord(uint64_t address) const;

  const Arch* arch_;  // a pointer: checkpoints assign a CodeState
  bool idc_, dic_;
  CodeImage original_;                               // the code before the plan
  CodeImage current_;                                // as the stores so far left it
  std::map<uint64_t, uint32_t> originalBoundaries_;  // address -> length
  std::vector<uint64_t> anchors_;                    // store starts that begin an instruction
  std::map<uint64_t, uint32_t> newBoundaries_;
  std::optional<std::pair<uint64_t, uint64_t>> inFlight_;
  std::optional<size_t> inFlightStep_;
  std::map<uint64_t, std::vector<Version>> versions_;  // Arm64 words stored to
  size_t step_ = 0;
};

}  // namespace hph
