// Guest memory as host-owned buffers. The engines map these buffers directly
// (uc_mem_map_ptr), so the host reads and writes guest memory without a copy, a
// snapshot is a memcpy, and a second engine (Arm64EC, planned) can share the same bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "support/Result.h"

namespace hph {

enum Permission : uint32_t { kRead = 1, kWrite = 2, kExecute = 4, kReadWrite = 3, kAll = 7 };

struct Region {
  uint64_t base = 0;
  uint64_t size = 0;
  uint32_t permissions = kAll;
  std::string name;  // "basics.x64.dll", "stack[0]", "shims"
  std::unique_ptr<uint8_t[], void (*)(void*)> bytes{nullptr, nullptr};

  uint64_t end() const { return base + size; }
  bool contains(uint64_t address) const { return address >= base && address - base < size; }
  std::span<uint8_t> span() { return {bytes.get(), size}; }
};

class AddressSpace {
 public:
  explicit AddressSpace(uint64_t pageSize) : pageSize_(pageSize) {}

  // A new zeroed region; `base` and `size` are rounded out to pages. Refuses overlaps.
  Result<Region*> add(uint64_t base, uint64_t size, uint32_t permissions, std::string name);

  Region* find(uint64_t address);
  const Region* find(uint64_t address) const;
  // A host view of [address, address+length) when one region holds all of it.
  std::span<uint8_t> view(uint64_t address, uint64_t length);
  std::span<const uint8_t> view(uint64_t address, uint64_t length) const;

  const std::vector<std::unique_ptr<Region>>& regions() const { return regions_; }
  uint64_t pageSize() const { return pageSize_; }

 private:
  // The regions' extents side by side, and the one found last: find() runs several times
  // per watched instruction (every read the checkers make), mostly in the same region.
  struct Extent {
    uint64_t base = 0, end = 0;
    Region* region = nullptr;
  };

  uint64_t pageSize_;
  std::vector<std::unique_ptr<Region>> regions_;
  std::vector<Extent> extents_;
  mutable size_t lastFound_ = 0;  // one AddressSpace is read by one thread at a time
};

}  // namespace hph
