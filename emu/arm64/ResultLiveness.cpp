#include "emu/arm64/ResultLiveness.h"

#include <array>
#include <cstring>
#include <tuple>
#include <vector>

#include "emu/core/PathWalk.h"

namespace hph::arm64 {
namespace {

constexpr uint32_t kLinkRegister = 30;

// What a callee may read under the Windows Arm64 convention: arguments x0-x7, the
// indirect-result register x8, the TEB in x18, callee-saved x19-x28 and the frame pointer
// x29 (it preserves them, and the checkers compare them at a patched entry, C6). x9-x17
// are volatile (x16/x17 are the veneers' scratch registers): dead at a call.
constexpr RegisterMask kCalleeMayRead = 0x1FF | (RegisterMask{0x7FF} << 18);

// One path of the walk.
struct Path {
  uint64_t pc = 0;
  RegisterMask tainted = 0;
  bool flags = false;
  bool linkKnown = true;  // x30 still holds `link`

  bool done() const { return tainted == 0 && !flags; }
  auto key() const { return std::tie(pc, tainted, flags, linkKnown); }
};

WalkStep step(Path& path, uint64_t link, const GuestRead& read, const CodeChanges& willChange,
              std::vector<Path>& forks) {
  std::array<uint8_t, 4> bytes{};
  if (!read(path.pc, bytes)) return WalkStep::kObserved;
  // Code a plan step will still store to: the thread may run other bytes there later.
  if (willChange(path.pc, path.pc + 4)) return WalkStep::kObserved;
  uint32_t word = 0;
  std::memcpy(&word, bytes.data(), 4);
  const InstructionEffects e = effectsOf(word, path.pc);
  if (!e.known) return WalkStep::kObserved;
  if ((e.addresses | e.stored) & path.tainted) return WalkStep::kObserved;  // an address or a stored value
  const bool derivedInput = (e.reads & path.tainted) || (e.readsFlags && path.flags);
  // Where the thread goes, or its stack pointer, would depend on it.
  if (derivedInput && (e.control != Control::kNext || e.writesSp)) return WalkStep::kObserved;

  // Taint moves with the data: written registers hold derived values when any input was.
  if (derivedInput) {
    path.tainted |= e.writes;
    path.flags = path.flags || e.writesFlags;
  } else {
    path.tainted &= ~e.writes;
    if (e.writesFlags) path.flags = false;
  }
  if (e.writes & bit(kLinkRegister)) path.linkKnown = false;

  switch (e.control) {
  case Control::kNext: path.pc += 4; break;
  case Control::kJump: path.pc = e.target; break;
  case Control::kConditional: {
    Path taken = path;
    taken.pc = e.target;
    forks.push_back(std::move(taken));
    path.pc += 4;
    break;
  }
  case Control::kCall:
    // Not followed: what runs there may change (a patch), and a host shim stub is not
    // what runs at all. The calling convention says what the callee may read.
    return (path.tainted & kCalleeMayRead) ? WalkStep::kObserved : WalkStep::kDone;
  case Control::kReturn:
    if (e.branchRegister != kLinkRegister || !path.linkKnown) return WalkStep::kObserved;
    path.pc = link;
    break;
  case Control::kIndirect: return WalkStep::kObserved;
  }
  return path.done() ? WalkStep::kDone : WalkStep::kOn;
}

}  // namespace

bool resultsUnobserved(const Results& results, uint64_t next, uint64_t link, const GuestRead& read,
                       const CodeChanges& willChange) {
  Path first{.pc = next, .tainted = results.registers, .flags = results.flags};
  first.linkKnown = !(results.registers & bit(kLinkRegister));
  return everyPathDropsTheResults(first, WalkBounds{}, [&](Path& path, std::vector<Path>& forks) {
    return step(path, link, read, willChange, forks);
  });
}

}  // namespace hph::arm64
