#include "host/AliasStore.h"

#include <cstring>

#include "plan/StoreAtomicity.h"

namespace hph {
namespace {

template <class T> void atomicStore(uint8_t* at, const uint8_t* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof(T));
  __atomic_store_n(reinterpret_cast<T*>(at), value, __ATOMIC_SEQ_CST);
}

}  // namespace

bool storeThroughAlias(uint8_t* alias, const StoreStep& step, std::string& error) {
  if (!step.live) {
    std::memcpy(alias, step.bytes.data(), step.bytes.size());
    return true;
  }
  for (const auto& [address, size] : atomicPieces(step.address, step.bytes.size())) {
    uint8_t* at = alias + (address - step.address);
    const uint8_t* bytes = step.bytes.data() + (address - step.address);
    switch (size) {
    case 1: atomicStore<uint8_t>(at, bytes); break;
    case 2: atomicStore<uint16_t>(at, bytes); break;
    case 4: atomicStore<uint32_t>(at, bytes); break;
    case 8: atomicStore<uint64_t>(at, bytes); break;
    default: error = "a store piece of " + std::to_string(size) + " bytes"; return false;
    }
  }
  return true;
}

}  // namespace hph
