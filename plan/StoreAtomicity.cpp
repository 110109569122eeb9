#include "plan/StoreAtomicity.h"

namespace hph {

constexpr uint64_t kCacheLine = 64;

bool singleCopyAtomic(uint64_t address, uint64_t size) {
  const bool power = size == 1 || size == 2 || size == 4 || size == 8;
  return power && address % size == 0 && address / kCacheLine == (address + size - 1) / kCacheLine;
}

std::vector<std::pair<uint64_t, uint64_t>> atomicPieces(uint64_t address, uint64_t size) {
  if (singleCopyAtomic(address, size)) return {{address, size}};
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
  const uint64_t end = address + size;
  while (address < end) {
    uint64_t chunk = 8;
    while (chunk > 1 && (address % chunk != 0 || address + chunk > end)) chunk /= 2;
    pieces.emplace_back(address, chunk);
    address += chunk;
  }
  return pieces;
}

}  // namespace hph
