// Which stores hardware makes single-copy atomic, and the atomic pieces any other store is
// made of. A plan's store step states its bytes; this rule says what another core can see
// of it half-done. The emulator's patcher and the property checkers apply it, and the
// on-host runner (planned, not built) must store with exactly these widths.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace hph {

// 1, 2, 4 or 8 bytes, naturally aligned, within one 64-byte cache line: single-copy atomic
// on both x64 and Arm64.
bool singleCopyAtomic(uint64_t address, uint64_t size);

// The store itself when single-copy atomic, else its largest naturally aligned chunks, in
// address order: (address, size) each.
std::vector<std::pair<uint64_t, uint64_t>> atomicPieces(uint64_t address, uint64_t size);

}  // namespace hph
