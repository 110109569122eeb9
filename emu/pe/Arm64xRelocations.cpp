#include "emu/pe/Arm64xRelocations.h"

#include <fmt/format.h>

#include <cstring>

#include "emu/pe/ByteReader.h"
#include "emu/pe/PeFormat.h"

namespace hph::pe {
namespace {

// IMAGE_DYNAMIC_RELOCATION_TABLE and its entries (winnt.h).
constexpr uint64_t kArm64xSymbol = 6;  // IMAGE_DYNAMIC_RELOCATION_ARM64X
constexpr uint32_t kTableHeaderSize = 8;
constexpr uint32_t kEntryV1HeaderSize = 12;  // Symbol (8), BaseRelocSize (4)
constexpr uint32_t kEntryV2MinHeaderSize = 24;
constexpr uint32_t kBlockHeaderSize = 8;  // VirtualAddress, SizeOfBlock

Error fieldError(const PeImage& image, std::string_view field, std::string problem) {
  return badInput(fmt::format("{}: {}: {}", image.path, field, problem));
}

// The image's bytes at rva as mapped, or nullopt outside every section.
template <class T> std::optional<T> mappedAt(const PeImage& image, uint64_t rva) {
  if (rva > UINT32_MAX) return std::nullopt;
  const std::vector<uint8_t> bytes = image.bytesAt(static_cast<uint32_t>(rva), sizeof(T));
  if (bytes.size() != sizeof(T)) return std::nullopt;
  T value;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

// The fixup records of one block of base-relocation layout.
Result<void> readBlock(const PeImage& image, uint64_t at, uint64_t end, std::vector<Arm64xFixup>& out, uint64_t& next) {
  constexpr std::string_view kField = "DynamicValueRelocTable.ARM64X";
  const auto page = mappedAt<uint32_t>(image, at);
  const auto blockSize = mappedAt<uint32_t>(image, at + 4);
  if (!page || !blockSize || *blockSize < kBlockHeaderSize || *blockSize > end - at)
    return fieldError(image, kField,
                      fmt::format("the block at RVA 0x{:x} has SizeOfBlock {} outside 8..{}", at,
                                  blockSize ? fmt::format("0x{:x}", *blockSize) : "(unreadable)", end - at));
  next = at + *blockSize;
  for (uint64_t r = at + kBlockHeaderSize; r + 2 <= next;) {
    const uint16_t record = mappedAt<uint16_t>(image, r).value_or(0);
    r += 2;
    if (record == 0) break;  // padding to the block's 4-byte end
    Arm64xFixup fixup;
    fixup.rva = *page + (record & 0xfff);
    const unsigned type = (record >> 12) & 3, arg = record >> 14;
    switch (type) {
    case 0:
      fixup.kind = Arm64xFixup::Kind::kZeroFill;
      fixup.size = static_cast<uint8_t>(1u << arg);
      break;
    case 1: {
      fixup.kind = Arm64xFixup::Kind::kValue;
      fixup.size = static_cast<uint8_t>(1u << arg);
      // One byte is written as a whole 16-bit record slot, like the rest.
      const uint32_t payload = std::max<uint32_t>(fixup.size, 2);
      if (r + payload > next)
        return fieldError(image, kField,
                          fmt::format("the value of the fixup at RVA 0x{:x} runs past its block", fixup.rva));
      for (uint32_t b = 0; b < fixup.size; ++b)
        fixup.value |= static_cast<uint64_t>(mappedAt<uint8_t>(image, r + b).value_or(0)) << (8 * b);
      r += payload;
      break;
    }
    case 2: {
      fixup.kind = Arm64xFixup::Kind::kDelta;
      fixup.size = 4;
      if (r + 2 > next)
        return fieldError(image, kField,
                          fmt::format("the delta of the fixup at RVA 0x{:x} runs past its block", fixup.rva));
      const int64_t magnitude = static_cast<int64_t>(mappedAt<uint16_t>(image, r).value_or(0)) * ((arg & 2) ? 8 : 4);
      fixup.delta = (arg & 1) ? -magnitude : magnitude;
      r += 2;
      break;
    }
    default:
      return fieldError(image, kField,
                        fmt::format("the fixup at RVA 0x{:x} has type 3, which is not defined", fixup.rva));
    }
    if (static_cast<uint64_t>(fixup.rva) + fixup.size > image.sizeOfImage)
      return fieldError(image, kField,
                        fmt::format("the fixup at RVA 0x{:x} ({} bytes) runs past SizeOfImage 0x{:x}", fixup.rva,
                                    fixup.size, image.sizeOfImage));
    out.push_back(fixup);
  }
  return {};
}

Result<void> readFixups(const PeImage& image, uint64_t at, uint64_t size, std::vector<Arm64xFixup>& out) {
  const uint64_t end = at + size;
  while (at + kBlockHeaderSize <= end) {
    uint64_t next = end;
    if (auto r = readBlock(image, at, end, out, next); !r) return r;
    at = next;
  }
  return {};
}

}  // namespace

Result<void> readArm64xRelocations(PeImage& image) {
  if (image.machine != kMachineArm64 || !image.loadConfig) return {};
  const LoadConfigInfo& config = *image.loadConfig;
  if (config.size < loadcfg::kDynamicValueRelocTableSection + 2) return {};
  const auto section = mappedAt<uint16_t>(image, config.rva + loadcfg::kDynamicValueRelocTableSection);
  const auto offset = mappedAt<uint32_t>(image, config.rva + loadcfg::kDynamicValueRelocTableOffset);
  if (!section || !offset || *section == 0) return {};
  if (*section > image.sections.size())
    return fieldError(image, "load config.DynamicValueRelocTableSection",
                      fmt::format("section {} does not exist (the image has {})", *section, image.sections.size()));
  const SectionInfo& holder = image.sections[*section - 1];
  if (static_cast<uint64_t>(*offset) + kTableHeaderSize > holder.virtualSize)
    return fieldError(image, "load config.DynamicValueRelocTableOffset",
                      fmt::format("0x{:x} leaves no 8-byte table header inside section {} (0x{:x} bytes)", *offset,
                                  *section, holder.virtualSize));
  const uint64_t table = static_cast<uint64_t>(holder.virtualAddress) + *offset;
  const uint32_t version = mappedAt<uint32_t>(image, table).value_or(0);
  const uint32_t size = mappedAt<uint32_t>(image, table + 4).value_or(0);
  if (static_cast<uint64_t>(*offset) + kTableHeaderSize + size > holder.virtualSize)
    return fieldError(image, "DynamicValueRelocTable.Size",
                      fmt::format("0x{:x} runs past the end of section {}", size, *section));
  if (version != 1 && version != 2)
    return fieldError(image, "DynamicValueRelocTable.Version", fmt::format("{} is not 1 or 2", version));
  const uint64_t end = table + kTableHeaderSize + size;
  for (uint64_t at = table + kTableHeaderSize; at < end;) {
    uint64_t headerSize = kEntryV1HeaderSize, fixupSize = 0, symbol = 0;
    if (version == 1) {
      const auto s = mappedAt<uint64_t>(image, at);
      const auto f = mappedAt<uint32_t>(image, at + 8);
      if (!s || !f || at + kEntryV1HeaderSize > end)
        return fieldError(image, "DynamicValueRelocTable", fmt::format("the entry at RVA 0x{:x} is cut short", at));
      symbol = *s;
      fixupSize = *f;
    } else {
      const auto h = mappedAt<uint32_t>(image, at);
      const auto f = mappedAt<uint32_t>(image, at + 4);
      const auto s = mappedAt<uint64_t>(image, at + 8);
      if (!h || !f || !s || *h < kEntryV2MinHeaderSize || at + *h > end)
        return fieldError(image, "DynamicValueRelocTable", fmt::format("the entry at RVA 0x{:x} is cut short", at));
      headerSize = *h;
      fixupSize = *f;
      symbol = *s;
    }
    if (at + headerSize + fixupSize > end)
      return fieldError(
          image, "DynamicValueRelocTable",
          fmt::format("the entry at RVA 0x{:x} holds 0x{:x} bytes of fixups, past the table's end", at, fixupSize));
    // The first ARM64X entry is the one loaders apply (Wine's loader does the same).
    if (symbol == kArm64xSymbol) return readFixups(image, at + headerSize, fixupSize, image.arm64x);
    at += headerSize + fixupSize;
  }
  return {};
}

Result<PeImage> arm64ecView(const PeImage& image) {
  std::vector<uint8_t> file = image.file;
  for (const Arm64xFixup& fixup : image.arm64x) {
    const std::optional<uint32_t> at = image.fileOffset(fixup.rva, fixup.size);
    if (!at) {
      // Bytes past a section's raw data are zero when mapped already.
      if (fixup.kind == Arm64xFixup::Kind::kZeroFill) continue;
      return fieldError(image, "DynamicValueRelocTable.ARM64X",
                        fmt::format("the fixup at RVA 0x{:x} changes bytes the file does not hold", fixup.rva));
    }
    uint8_t* bytes = file.data() + *at;
    switch (fixup.kind) {
    case Arm64xFixup::Kind::kZeroFill: std::memset(bytes, 0, fixup.size); break;
    case Arm64xFixup::Kind::kValue:
      for (uint32_t b = 0; b < fixup.size; ++b) bytes[b] = static_cast<uint8_t>(fixup.value >> (8 * b));
      break;
    case Arm64xFixup::Kind::kDelta: {
      int32_t field;
      std::memcpy(&field, bytes, 4);
      field = static_cast<int32_t>(static_cast<uint32_t>(field) + static_cast<uint32_t>(fixup.delta));
      std::memcpy(bytes, &field, 4);
      break;
    }
    }
  }
  return parsePeImage(std::move(file), image.path);
}

}  // namespace hph::pe

namespace hph {

Result<PeImage> readPeImageView(const std::string& path, ImageView view, std::string_view option) {
  auto image = readPeImage(path);
  if (!image || view == ImageView::kNative) return image;
  if (image->arm64x.empty())
    return badInput(fmt::format("{} arm64ec: {} is not an ARM64X image (it has no ARM64X dynamic value relocations)",
                                option, path));
  return pe::arm64ecView(*image);
}

}  // namespace hph
