#include "emu/pe/Arm64xRelocations.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "emu/pe/FieldError.h"
#include "emu/pe/PeFormat.h"

namespace hph::pe {
namespace {

// IMAGE_DYNAMIC_RELOCATION_TABLE and its entries (winnt.h).
constexpr uint64_t kArm64xSymbol = 6;  // IMAGE_DYNAMIC_RELOCATION_ARM64X
constexpr uint32_t kTableHeaderSize = 8;
constexpr uint32_t kEntryV1HeaderSize = 12;  // Symbol (8), BaseRelocSize (4)
constexpr uint32_t kEntryV2MinHeaderSize = 24;
constexpr uint32_t kBlockHeaderSize = 8;  // VirtualAddress, SizeOfBlock

// The image's bytes at rva as mapped, or nullopt outside every section.
template <class T> std::optional<T> mappedAt(const PeImage& image, uint64_t rva) {
  if (rva > UINT32_MAX) return std::nullopt;
  const std::vector<uint8_t> bytes = image.bytesAt(static_cast<uint32_t>(rva), sizeof(T));
  if (bytes.size() != sizeof(T)) return std::nullopt;
  T value;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

// The fixup records of one block of base-relocation layout; `next` is where the next block
// begins, or `end` when this one ends the list (SizeOfBlock 0, as Wine's loader reads it).
Result<void> readBlock(const PeImage& image, uint64_t at, uint64_t end, std::vector<Arm64xFixup>& out, uint64_t& next) {
  constexpr std::string_view kField = "DynamicValueRelocTable.ARM64X";
  const auto page = mappedAt<uint32_t>(image, at);
  const auto blockSize = mappedAt<uint32_t>(image, at + 4);
  if (blockSize && *blockSize == 0) {
    next = end;
    return {};
  }
  if (!page || !blockSize || *blockSize < kBlockHeaderSize || *blockSize > end - at || *blockSize % 2 != 0)
    return fieldError(image, kField,
                      fmt::format("the block at RVA 0x{:x} has SizeOfBlock {}, not an even size in 8..{}", at,
                                  blockSize ? fmt::format("0x{:x}", *blockSize) : "(unreadable)", end - at));
  next = at + *blockSize;
  for (uint64_t r = at + kBlockHeaderSize; r + 2 <= next;) {
    const uint16_t record = mappedAt<uint16_t>(image, r).value_or(0);
    r += 2;
    if (record == 0) break;  // padding to the block's 4-byte end
    // In 64 bits: a page near 4 GiB plus the offset must not wrap to the image's start.
    const uint64_t rva = static_cast<uint64_t>(*page) + (record & 0xfff);
    const unsigned type = (record >> 12) & 3, arg = record >> 14;
    Arm64xFixup fixup;
    switch (type) {
    case 0:
      fixup.kind = Arm64xFixup::Kind::kZeroFill;
      fixup.size = static_cast<uint8_t>(1u << arg);
      break;
    case 1: {
      fixup.kind = Arm64xFixup::Kind::kValue;
      // winnt.h sizes a value 2, 4 or 8 bytes (IMAGE_DVRT_ARM64X_FIXUP_SIZE_2BYTES = 1);
      // 0 is reserved, and loaders disagree on how its payload would be laid out.
      if (arg == 0)
        return fieldError(image, kField,
                          fmt::format("the value fixup at RVA 0x{:x} has size 0, which is reserved", rva));
      fixup.size = static_cast<uint8_t>(1u << arg);
      if (r + fixup.size > next)
        return fieldError(image, kField, fmt::format("the value of the fixup at RVA 0x{:x} runs past its block", rva));
      for (uint32_t b = 0; b < fixup.size; ++b)
        fixup.value |= static_cast<uint64_t>(mappedAt<uint8_t>(image, r + b).value_or(0)) << (8 * b);
      r += fixup.size;
      break;
    }
    case 2: {
      fixup.kind = Arm64xFixup::Kind::kDelta;
      fixup.size = 4;
      if (r + 2 > next)
        return fieldError(image, kField, fmt::format("the delta of the fixup at RVA 0x{:x} runs past its block", rva));
      // arg bit 1: scaled by 8 (else 4); bit 0: subtracted.
      const int64_t magnitude = static_cast<int64_t>(mappedAt<uint16_t>(image, r).value_or(0)) * ((arg & 2) ? 8 : 4);
      fixup.delta = (arg & 1) ? -magnitude : magnitude;
      r += 2;
      break;
    }
    default:
      return fieldError(image, kField, fmt::format("the fixup at RVA 0x{:x} has type 3, which is not defined", rva));
    }
    if (rva + fixup.size > image.sizeOfImage)
      return fieldError(image, kField,
                        fmt::format("the fixup at RVA 0x{:x} ({} bytes) runs past SizeOfImage 0x{:x}", rva, fixup.size,
                                    image.sizeOfImage));
    fixup.rva = static_cast<uint32_t>(rva);
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
  // As mapped: bytesAt reads raw data and the zero-filled tail alike.
  const uint64_t holderSize = std::max(holder.virtualSize, holder.rawSize);
  if (static_cast<uint64_t>(*offset) + kTableHeaderSize > holderSize)
    return fieldError(image, "load config.DynamicValueRelocTableOffset",
                      fmt::format("0x{:x} leaves no 8-byte table header inside section {} (0x{:x} bytes)", *offset,
                                  *section, holderSize));
  const uint64_t table = static_cast<uint64_t>(holder.virtualAddress) + *offset;
  const uint32_t version = mappedAt<uint32_t>(image, table).value_or(0);
  const uint32_t size = mappedAt<uint32_t>(image, table + 4).value_or(0);
  if (static_cast<uint64_t>(*offset) + kTableHeaderSize + size > holderSize)
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
    if (symbol == kArm64xSymbol) {
      image.isArm64x = true;
      return readFixups(image, at + headerSize, fixupSize, image.arm64x);
    }
    at += headerSize + fixupSize;
  }
  return {};
}

Result<PeImage> arm64ecView(const PeImage& image) {
  std::vector<uint8_t> file = image.file;
  for (const Arm64xFixup& fixup : image.arm64x) {
    if (fixup.kind == Arm64xFixup::Kind::kZeroFill) {
      // Byte by byte: what lies past a section's raw data is zero when mapped already.
      for (uint32_t b = 0; b < fixup.size; ++b)
        if (const auto at = image.fileOffset(fixup.rva + b, 1)) file[*at] = 0;
      continue;
    }
    const std::optional<uint32_t> at = image.fileOffset(fixup.rva, fixup.size);
    if (!at)
      return fieldError(image, "DynamicValueRelocTable.ARM64X",
                        fmt::format("the fixup at RVA 0x{:x} changes bytes the file does not hold (a section's "
                                    "zero-filled tail, or across sections): hph makes views from the file's bytes",
                                    fixup.rva));
    uint8_t* bytes = file.data() + *at;
    if (fixup.kind == Arm64xFixup::Kind::kValue) {
      for (uint32_t b = 0; b < fixup.size; ++b) bytes[b] = static_cast<uint8_t>(fixup.value >> (8 * b));
    } else {
      uint32_t field;
      std::memcpy(&field, bytes, 4);
      field += static_cast<uint32_t>(fixup.delta);  // two's complement: a negative delta subtracts
      std::memcpy(bytes, &field, 4);
    }
  }
  // What is wrong in the view is said of the view: the file itself parsed.
  auto view = parsePeImage(std::move(file), image.path);
  if (!view) {
    std::string message = view.error().message;
    if (message.starts_with(image.path + ": ")) message.insert(image.path.size(), " (Arm64EC view)");
    return Error{view.error().status, std::move(message)};
  }
  if (view->machine != kMachineAmd64)
    return fieldError(
        image, "(Arm64EC view) FileHeader.Machine",
        fmt::format("0x{:04x} after the ARM64X fixups, not x64 (0x8664): no x64 process loads it", view->machine));
  return view;
}

}  // namespace hph::pe

namespace hph {

Result<PeImage> readPeImageView(const std::string& path, ImageView view, std::string_view option) {
  auto image = readPeImage(path);
  if (!image || view == ImageView::kNative) return image;
  if (!image->isArm64x)
    return badInput(fmt::format(
        "{}: {} arm64ec: not an ARM64X image (no ARM64X entry in a dynamic value relocation table)", path, option));
  return pe::arm64ecView(*image);
}

}  // namespace hph
