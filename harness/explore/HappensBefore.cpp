#include "harness/explore/HappensBefore.h"

#include <algorithm>

namespace hph {

void HappensBefore::truncate(size_t count) {
  if (count >= events_.size()) return;
  const size_t undoFrom = events_[count].undoBegin;
  for (size_t u = undo_.size(); u > undoFrom; --u) {
    const Undo& entry = undo_[u - 1];
    tables_[entry.table].row(entry.row)[entry.slot] = entry.previous;
  }
  undo_.resize(undoFrom);
  for (size_t e = events_.size(); e > count; --e) byActor_[events_[e - 1].slot].pop_back();
  events_.resize(count);
  clocks_.resize(count * stride_);
}

uint32_t HappensBefore::clockAt(int32_t event, uint32_t slot) const {
  return slot < stride_ ? clocks_[static_cast<size_t>(event) * stride_ + slot] : 0;
}

void HappensBefore::widen(uint32_t slots) {
  if (slots <= stride_) return;
  const uint32_t stride = std::max({slots, stride_ * 2, 4u});
  std::vector<uint32_t> clocks(events_.size() * stride, 0);
  for (size_t e = 0; e < events_.size(); ++e)
    std::copy_n(clocks_.begin() + static_cast<std::ptrdiff_t>(e * stride_), stride_,
                clocks.begin() + static_cast<std::ptrdiff_t>(e * stride));
  clocks_ = std::move(clocks);
  stride_ = stride;
  for (LatestByKey& table : tables_) table.widen(stride);
}

void HappensBefore::consider(Table table, uint64_t key, uint32_t self) {
  const LatestByKey::Row found = tables_[table].find(key);
  if (found == LatestByKey::kNoRow) return;
  const int32_t* latest = tables_[table].row(found);
  for (uint32_t slot = 0; slot < candidate_.size(); ++slot)
    if (slot != self && latest[slot] > candidate_[slot]) candidate_[slot] = latest[slot];
}

void HappensBefore::considerSlot(Table table, uint64_t key, uint32_t self, uint32_t slot) {
  const LatestByKey::Row found = tables_[table].find(key);
  if (found == LatestByKey::kNoRow || slot == self || slot >= candidate_.size()) return;
  candidate_[slot] = std::max(candidate_[slot], tables_[table].row(found)[slot]);
}

void HappensBefore::record(Table table, uint64_t key, uint32_t slot, int32_t event) {
  const LatestByKey::Row row = tables_[table].findOrAdd(key);
  int32_t& latest = tables_[table].row(row)[slot];
  if (latest == event) return;
  undo_.push_back({table, row, slot, latest});
  latest = event;
}

void HappensBefore::append(ActorId actor, const Footprint& footprint, std::vector<size_t>& races) {
  const uint32_t self = slotOf(actor);
  if (byActor_.size() <= self) byActor_.resize(self + 1);
  widen(static_cast<uint32_t>(byActor_.size()));
  const auto index = static_cast<int32_t>(events_.size());
  candidate_.assign(byActor_.size(), -1);

  // The latest transition of every other actor that conflicts with this one.
  for (const AddressRange& r : footprint.fetched)
    for (uint64_t b = firstGranule(r); b < endGranule(r); ++b) {
      consider(kStoredCode, b, self);
      consider(kFetchOrderingCode, b, self);
      consider(kPositionsCode, b, self);
    }
  for (const AddressRange& r : footprint.ordersFetches)
    for (uint64_t b = firstGranule(r); b < endGranule(r); ++b) consider(kFetchedCode, b, self);
  for (const AddressRange& r : footprint.arrived)
    for (uint64_t b = firstGranule(r); b < endGranule(r); ++b) consider(kPositionsCode, b, self);
  for (const AddressRange& r : footprint.positions)
    for (uint64_t b = firstGranule(r); b < endGranule(r); ++b) {
      consider(kFetchedCode, b, self);
      consider(kArrivedCode, b, self);
    }
  for (const AddressRange& r : footprint.stored) {
    for (uint64_t b = firstGranule(r); b < endGranule(r); ++b) {
      consider(kFetchedCode, b, self);
      consider(kStoredCode, b, self);
    }
    for (uint64_t g = r.begin >> 3; g < (r.end + 7) >> 3; ++g) {
      consider(kRead, g, self);
      consider(kWritten, g, self);
      consider(kAdded, g, self);
    }
  }
  for (uint64_t g : footprint.reads) {
    consider(kWritten, g, self);
    consider(kAdded, g, self);
    consider(kStoredGranule, g, self);
  }
  for (uint64_t g : footprint.writes) {
    consider(kWritten, g, self);
    consider(kRead, g, self);
    consider(kAdded, g, self);
    consider(kStoredGranule, g, self);
  }
  // Adds commute with adds: only plain accesses and stores order them.
  for (uint64_t g : footprint.adds) {
    consider(kWritten, g, self);
    consider(kRead, g, self);
    consider(kStoredGranule, g, self);
  }
  consider(kGlobal, 0, self);
  if (footprint.global) consider(kAny, 0, self);
  // An exit conflicts with the patcher's transitions (slot 0), which wait on threads.
  if (self == 0) consider(kOrdersPatcher, 0, self);
  if (footprint.ordersPatcher) considerSlot(kAny, 0, self, slotOf(kPatcher));

  // A conflicting transition races with this one unless it is ordered before it anyway:
  // before this actor's previous transition, or before another actor's conflicting one.
  Event event;
  event.slot = self;
  event.position = static_cast<uint32_t>(byActor_[self].size()) + 1;
  event.undoBegin = undo_.size();
  // This event's clock starts as its actor's previous one (zeros for its first).
  const size_t row = events_.size() * stride_;
  clocks_.resize(row + stride_, 0);
  if (!byActor_[self].empty())
    std::copy_n(clocks_.begin() + static_cast<std::ptrdiff_t>(byActor_[self].back() * stride_), stride_,
                clocks_.begin() + static_cast<std::ptrdiff_t>(row));
  const auto previousAt = [&](uint32_t q) { return byActor_[self].empty() ? 0u : clockAt(byActor_[self].back(), q); };
  for (uint32_t q = 0; q < candidate_.size(); ++q) {
    const int32_t i = candidate_[q];
    if (i < 0) continue;
    uint32_t ordered = previousAt(q);
    for (uint32_t r = 0; r < candidate_.size(); ++r)
      if (r != q && candidate_[r] >= 0) ordered = std::max(ordered, clockAt(candidate_[r], q));
    if (events_[static_cast<size_t>(i)].position > ordered) races.push_back(static_cast<size_t>(i));
    const size_t theirs = static_cast<size_t>(i) * stride_;
    for (size_t s = 0; s < stride_; ++s) clocks_[row + s] = std::max(clocks_[row + s], clocks_[theirs + s]);
  }
  clocks_[row + self] = event.position;
  events_.push_back(event);
  byActor_[self].push_back(static_cast<uint32_t>(index));

  for (const AddressRange& r : footprint.fetched)
    for (uint64_t b = firstGranule(r); b < endGranule(r); ++b) record(kFetchedCode, b, self, index);
  for (const AddressRange& r : footprint.stored) {
    for (uint64_t b = firstGranule(r); b < endGranule(r); ++b) record(kStoredCode, b, self, index);
    for (uint64_t g = r.begin >> 3; g < (r.end + 7) >> 3; ++g) record(kStoredGranule, g, self, index);
  }
  for (const AddressRange& r : footprint.ordersFetches)
    for (uint64_t b = firstGranule(r); b < endGranule(r); ++b) record(kFetchOrderingCode, b, self, index);
  for (const AddressRange& r : footprint.arrived)
    for (uint64_t b = firstGranule(r); b < endGranule(r); ++b) record(kArrivedCode, b, self, index);
  for (const AddressRange& r : footprint.positions)
    for (uint64_t b = firstGranule(r); b < endGranule(r); ++b) record(kPositionsCode, b, self, index);
  for (uint64_t g : footprint.reads) record(kRead, g, self, index);
  for (uint64_t g : footprint.writes) record(kWritten, g, self, index);
  for (uint64_t g : footprint.adds) record(kAdded, g, self, index);
  if (footprint.global) record(kGlobal, 0, self, index);
  if (footprint.ordersPatcher) record(kOrdersPatcher, 0, self, index);
  record(kAny, 0, self, index);
}

}  // namespace hph

namespace hph {

uint64_t HappensBefore::traceKey() const {
  std::vector<const Event*> order;
  for (const Event& e : events_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Event* a, const Event* b) {
    return std::pair(a->slot, a->position) < std::pair(b->slot, b->position);
  });
  uint64_t key = 14695981039346656037ull;  // FNV-1a
  auto mix = [&](uint64_t v) { key = (key ^ v) * 1099511628211ull; };
  for (const Event* e : order) {
    mix(e->slot);
    mix(e->position);
    const uint32_t* clock = clocks_.data() + static_cast<size_t>(e - events_.data()) * stride_;
    size_t used = stride_;
    while (used > 0 && clock[used - 1] == 0) --used;  // a shorter clock is the same clock
    for (size_t s = 0; s < used; ++s) mix(clock[s]);
    mix(~uint64_t{0});
  }
  return key;
}

}  // namespace hph
