// Little-endian instruction bytes, appended, with literals that are placed after the code.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace hph {

class CodeBuffer {
 public:
  explicit CodeBuffer(uint64_t address) : address_(address) {}
  uint64_t here() const { return address_ + bytes_.size(); }
  size_t size() const { return bytes_.size(); }
  void byte(uint8_t b) { bytes_.push_back(b); }
  void bytes(const uint8_t* data, size_t n) { bytes_.insert(bytes_.end(), data, data + n); }
  void u32(uint32_t v) { append(v); }
  void u64(uint64_t v) { append(v); }
  void patchByte(size_t offset, uint8_t v) { bytes_[offset] = v; }
  std::vector<uint8_t> take() { return std::move(bytes_); }
  const std::vector<uint8_t>& view() const { return bytes_; }

 private:
  template <class T> void append(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    bytes_.insert(bytes_.end(), b, b + sizeof(T));
  }
  uint64_t address_;
  std::vector<uint8_t> bytes_;
};

// A 64-bit value as the 8 little-endian bytes a literal or address-table slot holds.
inline std::vector<uint8_t> littleEndian64(uint64_t value) {
  std::vector<uint8_t> out(8);
  std::memcpy(out.data(), &value, 8);
  return out;
}

}  // namespace hph
