// Rules for the patcher's stores, checked as each store lands (the live flag comes from
// the plan's liveness analysis): X1/X2 on x64, A1/A4 on Arm64, A2 (what a new branch
// reaches was made visible first), C3 (a stop-the-world commit finds no thread inside)
// and C7 (code is reused only once no thread is in it).
#include <fmt/format.h>

#include "emu/arm64/Cmodx.h"
#include "plan/StoreAtomicity.h"
#include "properties/PropertyMonitor.h"
#include "support/HexText.h"

namespace hph {
namespace {

constexpr uint64_t kWord = 4;

uint32_t wordOf(std::span<const uint8_t> bytes) {
  uint32_t w = 0;
  std::memcpy(&w, bytes.data(), std::min<size_t>(4, bytes.size()));
  return w;
}

}  // namespace

void PropertyMonitor::checkStore(size_t step, const StoreStep& store) {
  if (suspended_) return checkCommit(step, store);
  checkReuse(step, store);
  if (violation_) return;
  // Live stores: between the instructions concurrent modification is restricted to (A1,
  // A4), or any whole instructions, and one-byte breakpoints (X1, X2).
  if (store.live) {
    if (arch_.facts().concurrentModificationRestricted)
      checkLiveStoreArm64(step, store);
    else
      checkLiveStoreX64(step, store);
  }
  // A2: only where fetch may see stale code must what a branch reaches be made visible.
  if (!violation_ && !store.data && !arch_.facts().fetchCoherentWithStores) checkVisibleBeforeBranch(step, store);
}

void PropertyMonitor::checkLiveStoreX64(size_t step, const StoreStep& store) {
  const uint64_t at = store.address, size = store.bytes.size();
  const std::string bytes = hexBytes(store.bytes);
  if (store.data) {
    if (!singleCopyAtomic(at, size))
      report(Property::kX2, kPatcher, at, step, bytes,
             fmt::format("{} stores {} bytes of live data at {} that are not single-copy atomic (aligned 2/4/8 "
                         "bytes within one cache line)",
                         stepText(step), size, where(at)));
    return;
  }
  const auto boundary = code_.boundaryAt(at);
  const auto current = code_.byteAt(at);
  const auto& breakpoint = arch_.facts().singleByteBreakpoint;  // int3
  // X1: a one-byte int3 into an instruction's first byte, or out of it.
  if (size == 1 && boundary && breakpoint && (store.bytes[0] == breakpoint->opcode || current == breakpoint->opcode))
    return;
  // X1: bytes under an int3 (an instruction whose first byte is int3 now), once every
  // thread serialised after the int3 was written. (int3Stores_ is empty without one.)
  for (const auto& [int3, written] : int3Stores_) {
    if (code_.byteAt(int3) != breakpoint->opcode || !(int3 < at && at + size <= int3 + 16)) continue;
    if (lastSync_ && *lastSync_ > written) return;
    return report(Property::kX1, kPatcher, at, step, bytes,
                  fmt::format("{} rewrites bytes under the int3 at {} before every thread serialised after it",
                              stepText(step), where(int3)));
  }
  // X2: any other live store is single-copy atomic and replaces exactly one whole
  // instruction at least that long.
  if (!singleCopyAtomic(at, size))
    return report(Property::kX2, kPatcher, at, step, bytes,
                  fmt::format("{} writes {} bytes over live code at {} that are not single-copy atomic (aligned "
                              "2/4/8 bytes within one cache line)",
                              stepText(step), size, where(at)));
  if (!boundary || *boundary < size)
    return report(Property::kX2, kPatcher, at, step, bytes,
                  fmt::format("{} writes {} bytes over live code at {} that {}", stepText(step), size, where(at),
                              boundary ? fmt::format("span more than the {}-byte instruction there", *boundary)
                                       : std::string("do not start on an instruction")));
}

void PropertyMonitor::checkLiveStoreArm64(size_t step, const StoreStep& store) {
  const uint64_t at = store.address, size = store.bytes.size();
  const std::string bytes = hexBytes(store.bytes);
  if (store.data) {
    // A4: mutable redirection state is an aligned 64-bit literal, updated by one store.
    if (size != 8 || at % 8)
      report(Property::kA4, kPatcher, at, step, bytes,
             fmt::format("{} updates live redirection data at {} with a {}-byte store; it must be one aligned "
                         "64-bit store",
                         stepText(step), where(at), size));
    return;
  }
  // A1: one aligned 32-bit store whose old and new instructions may both be modified
  // while other cores run them.
  const std::vector<uint8_t> old = code_.bytesAt(at, 4);
  if (size != kWord || at % kWord)
    return report(Property::kA1, kPatcher, at, step, bytes,
                  fmt::format("{} writes {} bytes over live code at {}: only one aligned 32-bit store may",
                              stepText(step), size, where(at)));
  const uint32_t before = wordOf(old), after = wordOf(store.bytes);
  for (const auto& [word, which] : {std::pair{before, "old"}, std::pair{after, "new"}})
    if (!arm64::isConcurrentlyModifiable(word))
      return report(
          Property::kA1, kPatcher, at, step, bytes,
          fmt::format("{} replaces '{}' with '{}' at {}: the {} instruction is not one of B, BL, BRK, HVC, ISB, "
                      "NOP, SMC, SVC, so other cores may not run it while it changes",
                      stepText(step), arch_.decode(old, at).text, arch_.decode(store.bytes, at).text, where(at),
                      which));
}

void PropertyMonitor::checkVisibleBeforeBranch(size_t step, const StoreStep& store) {
  // A2: follow a newly written branch through the tracked code; every word it reaches
  // must have been made visible (cache maintenance after its last store) already.
  for (uint64_t w = store.address; w + kWord <= store.address + store.bytes.size(); w += kWord) {
    const std::span<const uint8_t> word(store.bytes.data() + (w - store.address), kWord);
    const DecodedInstruction insn = arch_.decode(word, w);
    if (insn.flow != Flow::kJump && insn.flow != Flow::kCall && insn.flow != Flow::kConditional) continue;
    uint64_t pc = insn.target;
    for (int i = 0; i < 64 && code_.tracked(pc); ++i) {
      const DecodedInstruction next = arch_.decode(code_.bytesAt(pc, kWord), pc);
      if (!next.valid)
        return report(
            Property::kA2, kPatcher, store.address, step, hexBytes(store.bytes),
            fmt::format("{} branches to {} where there is no code yet ('{}')", stepText(step), where(pc), next.text));
      if (code_.pending(pc, kWord))
        return report(Property::kA2, kPatcher, store.address, step, hexBytes(store.bytes),
                      fmt::format("{} branches to code at {} that was written but not yet made visible (no cache "
                                  "maintenance over it since)",
                                  stepText(step), where(pc)));
      if (next.flow == Flow::kJump)
        pc = next.target;
      else if (next.flow == Flow::kNext || next.flow == Flow::kConditional || next.flow == Flow::kCall)
        pc += kWord;
      else
        break;
    }
  }
}

void PropertyMonitor::checkCommit(size_t step, const StoreStep& store) {
  // C3: while every thread is suspended, none may be inside the bytes this store
  // replaces (nor the instructions they cut), by PC or by a return address.
  uint64_t from = store.address, to = store.address + store.bytes.size();
  for (const Step& s : plan_.steps)
    if (const auto* move = std::get_if<MovePcStep>(&s); move && move->from <= from && from < move->from + move->size) {
      from = move->from;
      to = std::max(to, move->from + move->size);
    }
  for (const GuestThread& t : process_->threads()) {
    if (t.state == ThreadState::kFinished || !t.started) continue;
    const auto actor = static_cast<ActorId>(t.index);
    const uint64_t pc = process_->pcOf(t.index);
    if (from < pc && pc < to)
      return report(Property::kC3, actor, pc, step, hexBytes(store.bytes),
                    fmt::format("{} commits while {} is suspended at {}, inside the replaced span [{:#x}, {:#x})",
                                stepText(step), actorName(actor), where(pc), from, to));
    if (const auto ret = process_->returnAddressInside(t.index, from, to - from))
      return report(Property::kC3, actor, ret->first, step, hexBytes(store.bytes),
                    fmt::format("{} commits while {} holds a return address {} inside the replaced span [{:#x}, {:#x})",
                                stepText(step), actorName(actor), where(ret->first), from, to));
  }
}

void PropertyMonitor::checkReuse(size_t step, const StoreStep& store) {
  if (store.live) return;  // live stores follow the rules above
  // C7: a store the plan considers dead (nothing fetches there) must not overwrite an
  // instruction a thread is stopped on.
  for (const GuestThread& t : process_->threads()) {
    if (t.state == ThreadState::kFinished || !t.started) continue;
    const uint64_t pc = process_->pcOf(t.index);
    const auto length = code_.boundaryAt(pc).value_or(1);
    if (pc < store.address + store.bytes.size() && store.address < pc + length) {
      const auto actor = static_cast<ActorId>(t.index);
      return report(Property::kC7, actor, pc, step, hexBytes(store.bytes),
                    fmt::format("{} reuses {} while {} is still there (release it first)", stepText(step), where(pc),
                                actorName(actor)));
    }
  }
}

}  // namespace hph
