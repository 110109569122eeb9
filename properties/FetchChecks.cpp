// What a thread is about to execute inside the code a plan touches: C1 (an instruction
// boundary of the code in memory now), C2 (not resumed inside a span that changed while
// it was stopped), C4 (not torn by a store in flight); X3 for transient INT3s.
#include <fmt/format.h>

#include "properties/PropertyMonitor.h"
#include "support/HexText.h"

namespace hph {

void PropertyMonitor::checkFetch(uint32_t index, uint64_t pc, bool resumed) {
  ThreadFacts& t = thread(index);
  const size_t seen = t.storesSeen;
  // A thread resumed somewhere else than where it stopped was moved (move-pc) there.
  const bool moved = t.stoppedAt && *t.stoppedAt != pc;
  t.storesSeen = storeLog_.size();
  t.stoppedAt = pc;
  if (!code_.tracked(pc)) return;
  const auto actor = static_cast<ActorId>(index);

  // C2: stopped at pc, and a store that changed bytes around pc (pc strictly inside it)
  // landed before it ran again, without a move-pc putting it elsewhere.
  if (resumed && !moved)
    for (size_t i = seen; i < storeLog_.size(); ++i) {
      const auto& [step, range] = storeLog_[i];
      if (range.first < pc && pc < range.second) {
        report(Property::kC2, actor, pc, step, hexBytes(code_.bytesAt(range.first, range.second - range.first)),
               fmt::format("{} was stopped at {} and resumed there after {} rewrote [{:#x}, {:#x}) around it",
                           actorName(actor), where(pc), stepText(step), range.first, range.second));
        if (violation_) return;
        break;  // ignored: the checks below still apply
      }
    }

  const std::span<const uint8_t> bytes = code_.viewAt(pc, 16);
  const uint32_t length = lengthAt(pc, bytes);
  // What a report shows: the instruction's bytes and text (decoded again, off the hot path).
  auto fetched = [&] { return hexBytes(bytes.first(std::min<size_t>(length, bytes.size()))); };
  auto text = [&] { return arch_.decode(bytes, pc).text; };
  // C4: its bytes overlap a store whose atomic pieces are only partly written.
  if (const auto flight = code_.inFlight(); flight && flight->first < pc + length && pc < flight->second) {
    report(Property::kC4, actor, pc, code_.inFlightStep(), fetched(),
           fmt::format("{} fetches '{}' at {} while {} is half written: a mix of old and new bytes", actorName(actor),
                       text(), where(pc), stepText(code_.inFlightStep())));
    if (violation_) return;
  }
  // C1: an instruction start of the code in memory now (whole old, or new).
  if (code_.misplaced(pc, length))
    return report(
        Property::kC1, actor, pc, storeLog_.empty() ? std::nullopt : std::optional(storeLog_.back().first), fetched(),
        fmt::format("{} starts an instruction at {} that is not an instruction boundary of the code in "
                    "memory after {} (it would run '{}')",
                    actorName(actor), where(pc),
                    stepText(storeLog_.empty() ? std::nullopt : std::optional(storeLog_.back().first)), text()));
}

uint32_t PropertyMonitor::lengthAt(uint64_t pc, std::span<const uint8_t> bytes) {
  KnownLength& known = lengths_[pc];
  if (known.size == bytes.size() && std::equal(bytes.begin(), bytes.end(), known.bytes.begin())) return known.length;
  const DecodedInstruction insn = arch_.decode(bytes, pc);
  known.size = std::min(bytes.size(), known.bytes.size());
  std::copy_n(bytes.begin(), known.size, known.bytes.begin());
  known.length = insn.valid ? insn.length : 1;
  return known.length;
}

void PropertyMonitor::onBreakpoint(uint32_t index, uint64_t address, std::optional<uint64_t> continuation) {
  if (!continuation) return;  // not a transient int3 of the plan: the thread faults
  // X3: continue with exactly the old or the new semantics: the function this site is
  // redirected to now, or the one it was redirected to before (a series' previous patch).
  for (const PatchSite& site : sites_)
    if (site.entry == address && (*continuation == site.replacement || site.previous == *continuation)) return;
  const auto actor = static_cast<ActorId>(index);
  report(Property::kX3, actor, address, storeLog_.empty() ? std::nullopt : std::optional(storeLog_.back().first),
         hexBytes(code_.bytesAt(address, 1)),
         fmt::format("{} hit the transient int3 at {} and continues at {}, neither the old nor the new function",
                     actorName(actor), where(address), where(*continuation)));
}

}  // namespace hph
