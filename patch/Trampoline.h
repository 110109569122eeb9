// Trampolines: the instructions a redirect displaces from a function's entry, relocated
// so that running the trampoline and then the rest of the original function behaves
// exactly like the original. A relocator either builds one or refuses with a named
// reason; it is never silently wrong (TrampolineCheck verifies by differential execution).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emu/core/Arch.h"
#include "emu/core/Machine.h"

namespace hph {

struct TrampolineRequest {
  uint64_t functionAddress = 0;
  std::vector<uint8_t> function;   // the function's bytes (entry to its end)
  uint32_t patchBytes = 0;         // how many entry bytes the redirect overwrites
  uint64_t trampolineAddress = 0;  // where the trampoline will live
  bool btiGuarded = false;         // Arm64: the function's page enforces BTI
  // x64 stop-the-world: a call that is not the last displaced instruction stays a call,
  // its callee returning into the trampoline. (Otherwise it is refused: the return
  // address would lie in the overwritten span.) Threads that entered such a callee from
  // the original still return into the span: the plan's move-pc step retries for them.
  // (ProtocolInfo::callsReturnIntoTrampoline says which protocols; the Arm64 relocator
  // refuses a BL that is not last either way.)
  bool callsReturnIntoTrampoline = false;
  // A deliberate error in every RIP-relative displacement (the wrong-rip-fixup defect:
  // shows that the checks catch a bad trampoline). 0 in anything real.
  int32_t ripFixupError = 0;
};

struct Trampoline {
  uint64_t address = 0;
  std::vector<uint8_t> bytes;
  uint32_t displacedBytes = 0;  // whole instructions covering the patch
  uint64_t resumeAddress = 0;   // where the trampoline continues in the original
  // Registers the trampoline may change that the original does not: Arm64 x16/x17
  // (IP0/IP1), which AAPCS64 makes scratch at every call boundary, so dead at entry.
  std::vector<int> scratch;
  // Instruction boundaries: (offset in the original, offset in the trampoline), so a
  // thread stopped inside the displaced span can be moved to the same instruction.
  std::vector<std::pair<uint32_t, uint32_t>> boundaries;
  // The boundaries right after each call kept a call (callsReturnIntoTrampoline): the
  // return address it pushes is the trampoline's offset where the original's is the
  // original offset. The differential check compares that slot as this pair.
  std::vector<std::pair<uint32_t, uint32_t>> callReturns;
};

struct Relocation {
  std::optional<Trampoline> trampoline;
  std::string refusal;  // why not, when not: "branch back into the displaced span at +0x12"
  // The bytes themselves are bad (undecodable, an unaligned Arm64 entry): bad input, not a
  // precondition of the protocol that refuses.
  bool malformed = false;
};

// What a patch protocol writes at a function's entry to send calls elsewhere, and so
// which entry bytes a trampoline must displace (the instructions covering them).
struct RedirectChoice {
  std::vector<uint8_t> bytes;  // what is written at the entry
  uint32_t patchBytes = 0;     // entry bytes the trampoline must displace
};

class Relocator {
 public:
  virtual ~Relocator() = default;
  virtual const Arch& arch() const = 0;
  virtual Relocation relocate(const TrampolineRequest& request) const = 0;
  // The addresses the instructions displaced by `request.patchBytes` reference: branch and
  // call targets, PC-relative memory operands with their width, Arm64 ADR/ADRP and literal
  // targets (trampolineAddress plays no part). Neither the trampoline nor the checker's
  // memory may overlap them: code or data put there would change what the original does.
  virtual std::vector<AddressRange> references(const TrampolineRequest& request) const = 0;
  // The shortest redirect from `from` to `to` this architecture has (x64: jmp rel32 or
  // jmp [rip]; Arm64: B or a literal load and BR x16).
  virtual std::vector<uint8_t> redirect(uint64_t from, uint64_t to) const = 0;
};

const Relocator& x64Relocator();
const Relocator& arm64Relocator();
const Relocator& relocatorFor(const Arch& arch);

}  // namespace hph
