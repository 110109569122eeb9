// Calls of the patched functions: a call begins when a thread runs a site's entry and is
// new when it arrives at the replacement, old when it runs the old body. C5: per thread,
// once new, never old again (forward plans). C6: arriving at the replacement, argument
// and callee-saved registers, SP and the return address are what they were at the entry.
// C8: a call that began after the plan's last step is new (old, after an unpatch).
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "properties/PropertyMonitor.h"
#include "support/HexText.h"

namespace hph {

void PropertyMonitor::readEntryState(std::vector<uint8_t>& out) const {
  // Read at every call of a patched function: one sized buffer and one batched read.
  const std::span<const StateRegister> registers = arch_.entryStateRegisters();
  constexpr size_t kMaxRegisters = 64;
  std::array<int, kMaxRegisters> ids{};
  std::array<void*, kMaxRegisters> values{};
  size_t bytes = 0;
  for (const StateRegister& r : registers) bytes += r.bytes;
  out.resize(bytes);
  const size_t count = std::min(registers.size(), kMaxRegisters);
  size_t at = 0;
  for (size_t i = 0; i < count; ++i) {
    ids[i] = registers[i].id;
    values[i] = out.data() + at;
    at += registers[i].bytes;
  }
  uc_reg_read_batch(machine_->engine().get(), ids.data(), values.data(), static_cast<int>(count));
}

void PropertyMonitor::checkResult(uint32_t index, uint64_t pc) {
  ThreadFacts& t = thread(index);
  if (!t.pending || t.pending->returnAddress != pc) return;
  // The return popped what the call pushed (x64: the return address; Arm64: nothing).
  const uint64_t sp = machine_->engine().reg(arch_.spRegister());
  if (sp != t.pending->sp + arch_.facts().returnAddressStackBytes) return;
  const auto call = std::move(*t.pending);
  t.pending.reset();
  const auto expected = options_.reference ? options_.reference->results(call.site, call.args) : std::nullopt;
  if (!expected) return;
  const uint64_t result = arch_.returnValue(machine_->engine());
  const auto [oldResult, newResult] = *expected;
  const bool ok = call.version == 1   ? result == oldResult
                  : call.version == 2 ? result == newResult
                                      : result == oldResult || result == newResult;
  if (ok) return;
  const auto actor = static_cast<ActorId>(index);
  std::string args;
  for (uint64_t a : call.args) args += fmt::format("{}{:#x}", args.empty() ? "" : ", ", a);
  report(Property::kC5, actor, pc, storeLog_.empty() ? std::nullopt : std::optional(storeLog_.back().first),
         fmt::format("{:016x}", result),
         fmt::format("{}'s {} call {}({}) returned {:#x}; run alone from the same entry state the old function "
                     "returns {:#x} and the new {:#x}",
                     actorName(actor),
                     call.version == 1   ? "old"
                     : call.version == 2 ? "new"
                                         : "",
                     sites_[call.site].name, args, result, oldResult, newResult));
}

void PropertyMonitor::checkCalls(uint32_t index, uint64_t pc) {
  ThreadFacts& t = thread(index);
  const auto actor = static_cast<ActorId>(index);
  checkResult(index, pc);
  if (violation_) return;
  std::optional<size_t> arrived;  // every site this replacement replaces is exercised
  for (size_t s = 0; s < sites_.size(); ++s)
    if (sites_[s].replacement == pc) {
      if (!arrived) arrived = s;
      exercise_.markSite(s);
    }
  if (arrived) return arriveAtReplacement(index, *arrived);
  // The latest site of a series at this entry names the function calls must reach.
  std::optional<size_t> entered;
  for (size_t s = 0; s < sites_.size(); ++s)
    if (sites_[s].entry == pc) entered = s;
  if (entered) {
    t.call.site = entered;
    t.call.afterPlan = planDone_;
    readEntryState(t.call.entryState);
    t.call.entrySp = machine_->engine().reg(arch_.spRegister());
    t.call.entryReturn = arch_.returnAddress(machine_->engine());
    for (const PureSite& pure : options_.pure)
      if (sites_[pure.site].entry == pc) {
        std::vector<uint64_t> args;
        // The register arguments (what a pure function of integers can depend on).
        for (size_t i = 0; i < arch_.facts().integerArgumentRegisters; ++i)
          args.push_back(arch_.argument(machine_->engine(), i));
        t.pending = ThreadFacts::PendingResult{pure.site, std::move(args), t.call.entryReturn, t.call.entrySp, 0};
      }
    return;
  }
  if (!t.call.site) return;
  const PatchSite& site = sites_[*t.call.site];
  if (!(site.entry < pc && pc < site.entry + site.code.size())) return;  // padding, stubs: not decided yet
  // The old body runs: an old call.
  const bool afterPlan = t.call.afterPlan;
  t.call.site.reset();
  if (t.pending && t.pending->version == 0) t.pending->version = 1;
  if (options_.protocol.reverse) return;
  if (afterPlan)
    return report(Property::kC8, actor, pc, plan_.steps.empty() ? std::nullopt : std::optional(plan_.steps.size() - 1),
                  hexBytes(code_.bytesAt(site.entry, 8)),
                  fmt::format("{} called '{}' after the plan's last step and ran its old code at {}", actorName(actor),
                              site.name, where(pc)));
  if (std::find(t.newCallsOf.begin(), t.newCallsOf.end(), site.entry) != t.newCallsOf.end())
    return report(Property::kC5, actor, pc, storeLog_.empty() ? std::nullopt : std::optional(storeLog_.back().first),
                  hexBytes(code_.bytesAt(site.entry, 8)),
                  fmt::format("{} made a new call of '{}' earlier, and now an old one (at {})", actorName(actor),
                              site.name, where(pc)));
}

void PropertyMonitor::callResumed(uint32_t index, uint64_t pc) {
  // A call begins when its entry runs, not when its thread arrives there: stopped before
  // the entry and run after the plan's last step, it began after the plan. (So C8's
  // judgement follows the order of that fetch against the last step, which the search
  // orders, and not of an arrival, which it need not.)
  ThreadFacts& t = thread(index);
  if (t.call.site && sites_[*t.call.site].entry == pc) t.call.afterPlan = planDone_;
}

void PropertyMonitor::arriveAtReplacement(uint32_t index, size_t replaced) {
  ThreadFacts& t = thread(index);
  const auto actor = static_cast<ActorId>(index);
  const uint64_t pc = sites_[replaced].replacement;
  ++exercise_.patchedCalls;
  if (!t.call.site) return;
  const size_t site = *t.call.site;
  const Call& call = t.call;
  t.call.site.reset();
  if (std::find(t.newCallsOf.begin(), t.newCallsOf.end(), sites_[site].entry) == t.newCallsOf.end())
    t.newCallsOf.push_back(sites_[site].entry);
  if (t.pending && t.pending->version == 0) t.pending->version = 2;
  if (options_.protocol.reverse && call.afterPlan)
    return report(Property::kC8, actor, pc, plan_.steps.size() - 1, "",
                  fmt::format("{} called '{}' after the unpatch and arrived at the replacement {}", actorName(actor),
                              sites_[site].name, where(pc)));
  // C6: what the caller passed arrives unchanged.
  readEntryState(arrivalState_);
  if (arrivalState_ != call.entryState) {
    size_t at = 0;
    for (const StateRegister& r : arch_.entryStateRegisters()) {
      const std::span<const uint8_t> now(arrivalState_.data() + at, r.bytes),
          then(call.entryState.data() + at, r.bytes);
      at += r.bytes;
      if (std::equal(now.begin(), now.end(), then.begin())) continue;
      return report(Property::kC6, actor, pc, storeLog_.empty() ? std::nullopt : std::optional(storeLog_.back().first),
                    hexBytes(now),
                    fmt::format("{} arrives at the replacement of '{}' with {} = {} but called with {}",
                                actorName(actor), sites_[site].name, r.name, hexBytes(now), hexBytes(then)));
    }
  }
  const uint64_t sp = machine_->engine().reg(arch_.spRegister());
  const uint64_t ret = arch_.returnAddress(machine_->engine());
  if (sp != call.entrySp || ret != call.entryReturn)
    report(Property::kC6, actor, pc, std::nullopt, "",
           fmt::format("{} arrives at the replacement of '{}' with sp {:#x} / return address {:#x}, called with "
                       "{:#x} / {:#x}",
                       actorName(actor), sites_[site].name, sp, ret, call.entrySp, call.entryReturn));
}

}  // namespace hph
