#include "emu/core/AddressSpace.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>

namespace hph {

Result<Region*> AddressSpace::add(uint64_t base, uint64_t size, uint32_t permissions, std::string name) {
  const uint64_t mask = pageSize_ - 1;
  const uint64_t begin = base & ~mask;
  if (size == 0 || size > (uint64_t{1} << 40) || base + size < base)
    return badInput(fmt::format("{}: region size 0x{:x} is not mappable", name, size));
  const uint64_t end = (base + size + mask) & ~mask;
  for (const auto& region : regions_)
    if (begin < region->end() && region->base < end)
      return badInput(
          fmt::format("{}: [0x{:x}, 0x{:x}) overlaps {} at 0x{:x}", name, begin, end, region->name, region->base));
  auto region = std::make_unique<Region>();
  region->base = begin;
  region->size = end - begin;
  region->permissions = permissions;
  region->name = std::move(name);
  // Page-aligned so Unicorn can map the buffer as guest pages.
  void* bytes = std::aligned_alloc(pageSize_, region->size);
  if (!bytes) return internalError(fmt::format("out of memory mapping {}", region->name));
  std::memset(bytes, 0, region->size);
  region->bytes = {static_cast<uint8_t*>(bytes), std::free};
  extents_.push_back({region->base, region->end(), region.get()});
  regions_.push_back(std::move(region));
  return regions_.back().get();
}

Region* AddressSpace::find(uint64_t address) {
  if (lastFound_ < extents_.size() && address >= extents_[lastFound_].base && address < extents_[lastFound_].end)
    return extents_[lastFound_].region;
  for (size_t i = 0; i < extents_.size(); ++i)
    if (address >= extents_[i].base && address < extents_[i].end) {
      lastFound_ = i;
      return extents_[i].region;
    }
  return nullptr;
}

const Region* AddressSpace::find(uint64_t address) const { return const_cast<AddressSpace*>(this)->find(address); }

std::span<uint8_t> AddressSpace::view(uint64_t address, uint64_t length) {
  Region* region = find(address);
  if (!region || length > region->end() - address) return {};
  return {region->bytes.get() + (address - region->base), length};
}

std::span<const uint8_t> AddressSpace::view(uint64_t address, uint64_t length) const {
  return const_cast<AddressSpace*>(this)->view(address, length);
}

}  // namespace hph
