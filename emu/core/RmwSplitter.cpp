#include "emu/core/RmwSplitter.h"

namespace hph {

void RmwSplitter::arm(Machine& machine, const Process& process, ActorId thread, uint64_t pc, uint32_t size) {
  if (!machine.arch().hasSplittableAccesses() || size > 16) return;
  std::array<uint8_t, 16> code{};
  if (!machine.readGuest(pc, std::span(code).first(size))) return;
  const std::span<const uint8_t> bytes = std::span(code).first(size);
  KnownInstruction& known = known_[pc];
  std::optional<SplittableAccess> access;
  if (known.size != size || known.bytes != code) {
    known.bytes = code;
    known.size = size;
    // The split point is the next instruction's hook: without one nothing stops the
    // thread between the RMW and what follows, and the RMW stays indivisible.
    if (machine.watches(pc + size)) access = machine.arch().splittableAccess(machine.engine(), bytes, pc);
    known.splittable = access.has_value();
  } else if (known.splittable) {
    // Known to be one: only its address (from this thread's registers) is new.
    access = machine.arch().splittableAccess(machine.engine(), bytes, pc);
  }
  if (!access) return;
  // Thread areas (stacks, TEBs) are not tracked as shared data, so sleep sets could not
  // see a split there conflict: only the images' memory is split.
  for (const GuestThread& t : process.threads())
    if (process.ownsAddress(t.index, access->address)) return;
  std::vector<uint8_t> before(access->bytes);
  if (!machine.readGuest(access->address, before)) return;  // faults as it runs
  inFlight_ = InFlight{thread, pc, pc + size, access->address, std::move(before)};
}

std::optional<RmwSplitter::Completed> RmwSplitter::complete(const Machine& machine, uint64_t pc) {
  InFlight rmw = std::move(*inFlight_);
  inFlight_.reset();
  if (pc != rmw.next) return std::nullopt;  // it did not complete here (a fault ends the run)
  std::vector<uint8_t> after(rmw.before.size());
  if (!machine.readGuest(rmw.address, after)) return std::nullopt;
  return Completed{rmw.rmwPc, rmw.address, std::move(rmw.before), std::move(after)};
}

void RmwSplitter::hold(const Machine& machine, ActorId thread, Completed rmw) {
  machine.writeGuest(rmw.address, rmw.before);
  const auto index = static_cast<size_t>(thread);
  if (held_.size() <= index) held_.resize(index + 1);
  held_[index] = std::make_pair(rmw.address, std::move(rmw.after));
}

std::optional<std::pair<uint64_t, uint32_t>> RmwSplitter::land(const Machine& machine, ActorId thread) {
  const auto index = static_cast<size_t>(thread);
  if (index >= held_.size() || !held_[index]) return std::nullopt;
  const auto [address, bytes] = std::move(*held_[index]);
  held_[index].reset();
  machine.writeGuest(address, bytes);
  return std::make_pair(address, static_cast<uint32_t>(bytes.size()));
}

}  // namespace hph
