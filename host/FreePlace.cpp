#include "host/FreePlace.h"

#include <sys/mman.h>

namespace hph {

std::optional<uint64_t> freePlaceFor(const HostMovableSpan& span, const std::function<bool(uint64_t, uint64_t)>& free) {
  constexpr uint64_t kGrid = 0x10000;
  constexpr int kTries = 256;
  const uint64_t size = (span.end - span.begin + kGrid - 1) & ~(kGrid - 1);
  for (int i = 1; i <= kTries; ++i) {
    const uint64_t at = span.begin + i * size;
    if (at + size > span.limit) break;
    if (free(at, size)) return at;
  }
  // The next runner is another process: a place the kernel would choose here lies among
  // the mappings it scatters anew in every process (libraries, a sanitizer's own areas),
  // where the next one often has something already. These anchors lie far below the
  // kernel's top-down choices, and each is either inside AddressSanitizer's fixed areas
  // in every process or in none (2^44 is in its high shadow, which ends at 0x10007fff7fff;
  // its allocator starts at 0x600000000000), so a place free in one runner is free in the
  // next. Not the span's own place: that is the one found taken.
  for (uint64_t at = uint64_t{1} << 44; at + size <= span.limit && at < (uint64_t{1} << 47); at <<= 1)
    if ((at >= span.end || at + size <= span.begin) && free(at, size)) return at;
  void* anywhere = mmap(nullptr, size + kGrid, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (anywhere == MAP_FAILED) return std::nullopt;
  munmap(anywhere, size + kGrid);
  const uint64_t at = (reinterpret_cast<uint64_t>(anywhere) + kGrid - 1) & ~(kGrid - 1);
  if (at + size > span.limit || !free(at, size)) return std::nullopt;
  return at;
}

}  // namespace hph
