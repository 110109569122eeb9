#include "harness/explore/LatestByKey.h"

#include <algorithm>

namespace hph {

void LatestByKey::widen(uint32_t width) {
  if (width <= width_) return;
  std::vector<int32_t> rows(static_cast<size_t>(used_) * width, -1);
  for (size_t r = 0; r < used_; ++r)
    std::copy_n(rows_.begin() + static_cast<std::ptrdiff_t>(r * width_), width_,
                rows.begin() + static_cast<std::ptrdiff_t>(r * width));
  rows_ = std::move(rows);
  width_ = width;
}

LatestByKey::Row LatestByKey::find(uint64_t key) const {
  if (keys_.empty()) return kNoRow;
  const size_t mask = keys_.size() - 1;
  for (size_t at = home(key);; at = (at + 1) & mask) {
    if (keys_[at] == key) return rowOf_[at];
    if (keys_[at] == kEmpty) return kNoRow;
  }
}

LatestByKey::Row LatestByKey::findOrAdd(uint64_t key) {
  // At most half full: probes stay short.
  if ((used_ + 1) * 2 > keys_.size()) grow();
  const size_t mask = keys_.size() - 1;
  size_t at = home(key);
  for (; keys_[at] != kEmpty; at = (at + 1) & mask)
    if (keys_[at] == key) return rowOf_[at];
  keys_[at] = key;
  rowOf_[at] = static_cast<Row>(used_++);
  rows_.resize(used_ * width_, -1);
  return rowOf_[at];
}

void LatestByKey::grow() {
  const size_t capacity = std::max<size_t>(64, keys_.size() * 2);
  std::vector<uint64_t> keys(capacity, kEmpty);
  std::vector<Row> rowOf(capacity, kNoRow);
  shift_ = 64 - static_cast<uint32_t>(__builtin_ctzll(capacity));
  for (size_t place = 0; place < keys_.size(); ++place) {
    if (keys_[place] == kEmpty) continue;
    size_t at = home(keys_[place]);
    while (keys[at] != kEmpty) at = (at + 1) & (capacity - 1);
    keys[at] = keys_[place];
    rowOf[at] = rowOf_[place];
  }
  keys_ = std::move(keys);
  rowOf_ = std::move(rowOf);
}

}  // namespace hph
