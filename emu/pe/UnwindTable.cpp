#include "emu/pe/UnwindTable.h"

#include <fmt/format.h>

#include "emu/pe/ByteReader.h"
#include "emu/pe/PeFormat.h"

namespace hph::pe {
namespace {

constexpr uint8_t kUnwFlagChainInfo = 0x4;  // x64 UNWIND_INFO.Flags

Error entryError(const PeImage& image, std::string_view table, size_t index, std::string problem) {
  return badInput(fmt::format("{}: {} entry[{}]: {}", image.path, table, index, problem));
}

std::optional<uint32_t> u32At(const PeImage& image, uint32_t rva) {
  auto offset = image.fileOffset(rva, 4);
  return offset ? ByteReader(image.file).u32(*offset) : std::nullopt;
}

// RuntimeFunctionFormat::kBeginEndUnwindInfo (x64).
Result<UnwindEntry> beginEndEntry(const PeImage& image, std::string_view table, uint32_t at, size_t index) {
  UnwindEntry entry;
  entry.begin = *u32At(image, at);
  entry.end = *u32At(image, at + 4);
  const uint32_t unwind = *u32At(image, at + 8);
  if (entry.end <= entry.begin || entry.end > image.sizeOfImage)
    return entryError(image, table, index,
                      fmt::format("range [0x{:x}, 0x{:x}) is empty or outside the "
                                  "image",
                                  entry.begin, entry.end));
  // Low bit set: the entry points at another RUNTIME_FUNCTION (a chained fragment).
  if (unwind & 1) {
    entry.fragment = true;
  } else if (auto header = u32At(image, unwind)) {
    entry.fragment = ((*header & 0xFF) >> 3) & kUnwFlagChainInfo;
  } else {
    return entryError(image, table, index, fmt::format("UnwindInfo RVA 0x{:x} lies outside the image", unwind));
  }
  return entry;
}

// RuntimeFunctionFormat::kBeginPackedUnwind (Arm64).
Result<UnwindEntry> packedEntry(const PeImage& image, std::string_view table, uint32_t at, size_t index) {
  UnwindEntry entry;
  entry.begin = *u32At(image, at);
  const uint32_t unwind = *u32At(image, at + 4);
  uint32_t lengthWords = 0;
  switch (unwind & 3) {
  case 0: {  // .xdata record: FunctionLength in bits 0..17
    auto header = u32At(image, unwind);
    if (!header)
      return entryError(image, table, index, fmt::format(".xdata RVA 0x{:x} lies outside the image", unwind));
    lengthWords = *header & 0x3FFFF;
    break;
  }
  case 1:  // packed, with prologue
  case 2:  // packed fragment, no prologue
    entry.packed = true;
    entry.fragment = (unwind & 3) == 2;
    lengthWords = (unwind >> 2) & 0x7FF;
    break;
  default: return entryError(image, table, index, "reserved packed-unwind flag 3");
  }
  entry.end = entry.begin + lengthWords * 4;
  if (entry.begin % 4 || lengthWords == 0 || entry.end > image.sizeOfImage)
    return entryError(image, table, index,
                      fmt::format("range [0x{:x}, +{} words) is misaligned, empty or "
                                  "outside the image",
                                  entry.begin, lengthWords));
  return entry;
}

}  // namespace

Result<std::vector<UnwindEntry>> readRuntimeFunctions(const PeImage& image, uint32_t rva, uint32_t size,
                                                      RuntimeFunctionFormat format, std::string_view table) {
  std::vector<UnwindEntry> entries;
  const bool packed = format == RuntimeFunctionFormat::kBeginPackedUnwind;
  const uint32_t entrySize = packed ? 8 : 12;
  for (uint32_t at = 0, index = 0; at + entrySize <= size; at += entrySize, ++index) {
    if (!image.fileOffset(rva + at, entrySize))
      return entryError(image, table, index, fmt::format("RVA 0x{:x} is not inside a section's raw data", rva + at));
    auto entry = packed ? packedEntry(image, table, rva + at, index) : beginEndEntry(image, table, rva + at, index);
    if (!entry) return entry.error();
    if (!image.sectionAt(entry->begin) || image.sectionAt(entry->begin)->end() < entry->end)
      return entryError(image, table, index,
                        fmt::format("range [0x{:x}, 0x{:x}) is not inside one section", entry->begin, entry->end));
    entries.push_back(*entry);
  }
  return entries;
}

Result<std::vector<UnwindEntry>> readUnwindTable(const PeImage& image) {
  const DataDirectory dir = image.directories[kExceptionDirectory];
  return readRuntimeFunctions(image, dir.rva, dir.size, image.arch->facts().runtimeFunctionFormat,
                              "exception directory");
}

}  // namespace hph::pe
