// Bounds-checked little-endian reads: every access to untrusted image bytes goes
// through here, so a malformed image can produce an error but never an out-of-bounds read.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>

namespace hph::pe {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t size() const { return bytes_.size(); }
  bool contains(uint64_t offset, uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }

  template <class T> std::optional<T> read(uint64_t offset) const {
    if (!contains(offset, sizeof(T))) return std::nullopt;
    T value;
    std::memcpy(&value, bytes_.data() + offset, sizeof(T));
    return value;
  }
  std::optional<uint8_t> u8(uint64_t offset) const { return read<uint8_t>(offset); }
  std::optional<uint16_t> u16(uint64_t offset) const { return read<uint16_t>(offset); }
  std::optional<uint32_t> u32(uint64_t offset) const { return read<uint32_t>(offset); }
  std::optional<uint64_t> u64(uint64_t offset) const { return read<uint64_t>(offset); }

  // A NUL-terminated string of at most maxLength bytes starting at offset.
  std::optional<std::string> cString(uint64_t offset, size_t maxLength) const {
    if (offset >= bytes_.size()) return std::nullopt;
    const size_t limit = std::min<uint64_t>(maxLength, bytes_.size() - offset);
    const auto* begin = reinterpret_cast<const char*>(bytes_.data() + offset);
    const void* nul = std::memchr(begin, 0, limit);
    if (!nul) return std::nullopt;
    return std::string(begin, static_cast<const char*>(nul));
  }

  std::span<const uint8_t> slice(uint64_t offset, uint64_t length) const {
    return contains(offset, length) ? bytes_.subspan(offset, length) : std::span<const uint8_t>{};
  }

 private:
  std::span<const uint8_t> bytes_;
};

}  // namespace hph::pe
