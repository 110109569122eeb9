#include "emu/x64/UntranslatableBytes.h"

namespace hph::x64 {
namespace {

constexpr size_t kMaxInstructionBytes = 15;

bool isPrefix(uint8_t b) {
  switch (b) {
  case 0x26:
  case 0x2e:
  case 0x36:
  case 0x3e:
  case 0x64:
  case 0x65:
  case 0x66:
  case 0x67:
  case 0xf0:
  case 0xf2:
  case 0xf3: return true;
  default: return (b & 0xf0) == 0x40;  // REX
  }
}

}  // namespace

void findUntranslatable(uint64_t address, std::span<const uint8_t> bytes, std::vector<uint64_t>& out) {
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    const uint8_t modrm = bytes[i + 1];
    const uint8_t reg = (modrm >> 3) & 7;
    if (bytes[i] != 0xff || (modrm >> 6) != 3 || (reg != 3 && reg != 5)) continue;
    out.push_back(address + i);
    for (size_t back = 1; back < kMaxInstructionBytes && back <= i && isPrefix(bytes[i - back]); ++back)
      out.push_back(address + i - back);
  }
}

}  // namespace hph::x64
