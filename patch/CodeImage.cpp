#include "patch/CodeImage.h"

#include <algorithm>

namespace hph {

CodeImage::CodeImage(std::vector<CodeRegion> regions) {
  std::sort(regions.begin(), regions.end(), [](const auto& a, const auto& b) { return a.address < b.address; });
  for (const CodeRegion& r : regions) {
    const uint64_t end = r.address + r.bytes.size();
    if (!ranges_.empty() && r.address <= ranges_.back().address + ranges_.back().size) {
      Range& last = ranges_.back();
      const uint64_t lastEnd = last.address + last.size;
      if (end <= lastEnd) continue;
      bytes_.insert(bytes_.end(), r.bytes.end() - static_cast<ptrdiff_t>(end - lastEnd), r.bytes.end());
      last.size = end - last.address;
    } else {
      ranges_.push_back({r.address, r.bytes.size(), bytes_.size()});
      bytes_.insert(bytes_.end(), r.bytes.begin(), r.bytes.end());
    }
  }
}

const CodeImage::Range* CodeImage::rangeOf(uint64_t address) const {
  for (const Range& r : ranges_)
    if (address >= r.address && address < r.address + r.size) return &r;
  return nullptr;
}

std::optional<size_t> CodeImage::indexOf(uint64_t address) const {
  const Range* r = rangeOf(address);
  if (!r) return std::nullopt;
  return r->index + (address - r->address);
}

std::span<const uint8_t> CodeImage::bytesAt(uint64_t address, size_t size) const {
  const Range* r = rangeOf(address);
  if (!r) return {};
  const uint64_t offset = address - r->address;
  return std::span<const uint8_t>(bytes_).subspan(r->index + offset, std::min<uint64_t>(size, r->size - offset));
}

void CodeImage::write(uint64_t address, std::span<const uint8_t> bytes) {
  for (size_t i = 0; i < bytes.size(); ++i)
    if (const auto index = indexOf(address + i)) bytes_[*index] = bytes[i];
}

}  // namespace hph
