#include "emu/core/Schedule.h"

#include <fmt/format.h>

#include <algorithm>

namespace hph {
namespace {

bool intersects(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  auto i = a.begin(), j = b.begin();
  while (i != a.end() && j != b.end()) {
    if (*i == *j) return true;
    *i < *j ? ++i : ++j;
  }
  return false;
}

bool overlapsAny(const std::vector<AddressRange>& ranges, const std::vector<AddressRange>& others) {
  for (const AddressRange& r : ranges)
    for (const AddressRange& o : others)
      if (r.overlaps(o.begin, o.end)) return true;
  return false;
}

bool storesHitData(const std::vector<AddressRange>& stores, const std::vector<uint64_t>& granules) {
  for (const AddressRange& s : stores)
    for (uint64_t g : granules)
      if (s.overlaps(g << 3, (g << 3) + 8)) return true;
  return false;
}

}  // namespace

std::string actorName(ActorId actor) {
  if (actor == kPatcher) return "patcher";
  if (actor == kNoActor) return "nobody";
  return fmt::format("thread {}", actor);
}

void Footprint::normalize() {
  for (auto* set : {&reads, &writes, &adds}) {
    std::sort(set->begin(), set->end());
    set->erase(std::unique(set->begin(), set->end()), set->end());
  }
}

void Footprint::clear() {
  actor = kNoActor;
  fetched.clear();
  reads.clear();
  writes.clear();
  adds.clear();
  stored.clear();
  ordersFetches.clear();
  arrived.clear();
  positions.clear();
  global = opaque = ordersPatcher = false;
}

bool Footprint::conflictsWith(const Footprint& other) const {
  if (global || other.global || opaque || other.opaque) return true;
  if ((ordersPatcher && other.actor == kPatcher) || (other.ordersPatcher && actor == kPatcher)) return true;
  // A store conflicts with any fetch or data access of the same bytes.
  if (overlapsAny(stored, other.fetched) || overlapsAny(other.stored, fetched) || overlapsAny(stored, other.stored))
    return true;
  if (overlapsAny(ordersFetches, other.fetched) || overlapsAny(other.ordersFetches, fetched)) return true;
  if (overlapsAny(positions, other.fetched) || overlapsAny(positions, other.arrived) ||
      overlapsAny(other.positions, fetched) || overlapsAny(other.positions, arrived))
    return true;
  if (storesHitData(stored, other.reads) || storesHitData(stored, other.writes) || storesHitData(stored, other.adds) ||
      storesHitData(other.stored, reads) || storesHitData(other.stored, writes) || storesHitData(other.stored, adds))
    return true;
  // Data: write-read and write-write on the same granule; an add is a write to all but
  // another add.
  return intersects(writes, other.writes) || intersects(writes, other.reads) || intersects(reads, other.writes) ||
         intersects(adds, other.reads) || intersects(adds, other.writes) || intersects(reads, other.adds) ||
         intersects(writes, other.adds);
}

}  // namespace hph
