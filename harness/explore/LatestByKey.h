// One table of HappensBefore: for each key (a code byte, a data granule), the latest
// transition of each actor slot that touched it. Open addressing over flat arrays: a run
// appends thousands of transitions, each looking up every byte it fetched, and a node-
// based hash map with a vector per key spent a sixth of an exploration's time in lookups
// and allocations. Keys are never removed (HappensBefore's undo puts back the values).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hph {

class LatestByKey {
 public:
  // A key's row: `width()` entries, by actor slot, -1 where none.
  using Row = uint32_t;
  static constexpr Row kNoRow = UINT32_MAX;

  uint32_t width() const { return width_; }
  // Room for `width` slots in every row (existing rows keep their entries).
  void widen(uint32_t width);
  Row find(uint64_t key) const;
  Row findOrAdd(uint64_t key);
  int32_t* row(Row r) { return rows_.data() + static_cast<size_t>(r) * width_; }
  const int32_t* row(Row r) const { return rows_.data() + static_cast<size_t>(r) * width_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  size_t home(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  void grow();

  std::vector<uint64_t> keys_;  // capacity a power of two; kEmpty: a free place
  std::vector<Row> rowOf_;      // by place
  std::vector<int32_t> rows_;   // row r: [r * width_, (r + 1) * width_)
  uint32_t width_ = 0;
  uint32_t shift_ = 64;
  size_t used_ = 0;
};

}  // namespace hph
