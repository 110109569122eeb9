// The bytes of the code a plan touches (each site's padding and function, its hotpatch
// area), merged into one image that stores change: what the liveness analysis and the
// property checkers both reason over.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace hph {

struct CodeRegion {
  uint64_t address = 0;
  std::vector<uint8_t> bytes;  // before the plan
};

class CodeImage {
 public:
  // Sorted, overlapping regions merged (the first one's bytes winning).
  explicit CodeImage(std::vector<CodeRegion> regions);

  // Where `address` sits in the image (an index for per-byte marks), or nullopt when it
  // lies outside every region.
  std::optional<size_t> indexOf(uint64_t address) const;
  bool contains(uint64_t address) const { return indexOf(address).has_value(); }
  size_t size() const { return bytes_.size(); }
  uint8_t at(size_t index) const { return bytes_[index]; }
  // Up to `size` bytes at `address`, stopping at the end of its region.
  std::span<const uint8_t> bytesAt(uint64_t address, size_t size) const;
  // Bytes falling outside every region are ignored.
  void write(uint64_t address, std::span<const uint8_t> bytes);

 private:
  struct Range {
    uint64_t address = 0, size = 0;
    size_t index = 0;  // of its first byte in bytes_
  };
  const Range* rangeOf(uint64_t address) const;
  std::vector<Range> ranges_;
  std::vector<uint8_t> bytes_;
};

}  // namespace hph
