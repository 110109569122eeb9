#include "emu/pe/PeValidator.h"

#include <fmt/format.h>

#include <algorithm>

#include "emu/pe/ByteReader.h"
#include "emu/pe/FieldError.h"
#include "emu/pe/PeFormat.h"
#include "emu/pe/PrintableName.h"

namespace hph::pe {
namespace {

// Upper bounds that no sane image exceeds; past them the structure is corrupt.
constexpr uint32_t kMaxExports = 1u << 16;
constexpr uint32_t kMaxImportDescriptors = 4096;
constexpr uint32_t kMaxImportsPerDll = 1u << 16;
constexpr size_t kMaxNameLength = 4096;

bool isPowerOfTwo(uint32_t v) { return v && !(v & (v - 1)); }

// Reads at an RVA through the section table, so every read is within the file.
class RvaReader {
 public:
  explicit RvaReader(const PeImage& image) : image_(image), file_(image.file) {}
  template <class T> std::optional<T> read(uint32_t rva) const {
    auto offset = image_.fileOffset(rva, sizeof(T));
    return offset ? file_.read<T>(*offset) : std::nullopt;
  }
  std::optional<std::string> cString(uint32_t rva) const {
    auto offset = image_.fileOffset(rva, 1);
    return offset ? file_.cString(*offset, kMaxNameLength) : std::nullopt;
  }

 private:
  const PeImage& image_;
  ByteReader file_;
};

Result<void> validateSections(PeImage& image, const ByteReader& file, uint32_t tableOffset, uint16_t count) {
  if (!file.contains(tableOffset, uint64_t{count} * kSectionHeaderSize))
    return fieldError(image, "FileHeader.NumberOfSections",
                      fmt::format("{} section headers at 0x{:x} run past the end of the file "
                                  "(size {})",
                                  count, tableOffset, file.size()));
  for (uint16_t i = 0; i < count; ++i) {
    const uint32_t at = tableOffset + i * kSectionHeaderSize;
    SectionInfo s;
    auto rawName = file.slice(at, 8);
    s.name = printableName(std::string(rawName.begin(), std::find(rawName.begin(), rawName.end(), uint8_t{0})));
    s.virtualSize = *file.u32(at + 8);
    s.virtualAddress = *file.u32(at + 12);
    s.rawSize = *file.u32(at + 16);
    s.rawOffset = *file.u32(at + 20);
    s.characteristics = *file.u32(at + 36);
    const std::string field = fmt::format("section[{}] '{}'", i, s.name);
    if (s.virtualSize > kMaxImageSize || s.rawSize > kMaxImageSize)
      return fieldError(image, field,
                        fmt::format("absurd size (VirtualSize 0x{:x}, SizeOfRawData "
                                    "0x{:x})",
                                    s.virtualSize, s.rawSize));
    if (s.rawSize && !file.contains(s.rawOffset, s.rawSize))
      return fieldError(image, field + ".PointerToRawData",
                        fmt::format("raw data [0x{:x}, +0x{:x}) lies past the end of the file "
                                    "(size {})",
                                    s.rawOffset, s.rawSize, file.size()));
    if (s.virtualAddress < image.sizeOfHeaders ||
        uint64_t{s.virtualAddress} + std::max(s.virtualSize, 1u) > image.sizeOfImage)
      return fieldError(image, field + ".VirtualAddress",
                        fmt::format("[0x{:x}, +0x{:x}) is outside the image (headers 0x{:x}, "
                                    "SizeOfImage 0x{:x})",
                                    s.virtualAddress, s.virtualSize, image.sizeOfHeaders, image.sizeOfImage));
    if (s.virtualAddress % image.sectionAlignment)
      return fieldError(
          image, field + ".VirtualAddress",
          fmt::format("0x{:x} is not a multiple of SectionAlignment 0x{:x}", s.virtualAddress, image.sectionAlignment));
    // Sections come in ascending order and must not overlap once mapped.
    if (!image.sections.empty()) {
      const SectionInfo& prev = image.sections.back();
      const uint64_t prevEnd = uint64_t{prev.virtualAddress} + std::max(prev.virtualSize, prev.rawSize);
      if (s.virtualAddress < prevEnd)
        return fieldError(image, field,
                          fmt::format("overlaps section '{}' ([0x{:x}, 0x{:x}) vs 0x{:x})", prev.name,
                                      prev.virtualAddress, prevEnd, s.virtualAddress));
    }
    // Raw data beyond the virtual size is not mapped; keep only what lands in the image.
    if (s.virtualSize && s.rawSize > s.virtualSize) {
      const uint32_t alignedVirtual = (s.virtualSize + image.sectionAlignment - 1) & ~(image.sectionAlignment - 1);
      if (s.rawSize > alignedVirtual) s.rawSize = alignedVirtual;
    }
    if (uint64_t{s.virtualAddress} + s.rawSize > image.sizeOfImage)
      return fieldError(image, field + ".SizeOfRawData",
                        fmt::format("0x{:x} bytes at 0x{:x} run past SizeOfImage 0x{:x}", s.rawSize, s.virtualAddress,
                                    image.sizeOfImage));
    image.sections.push_back(std::move(s));
  }
  return {};
}

Result<void> validateExports(const PeImage& image, const RvaReader& at) {
  const DataDirectory dir = image.directories[kExportDirectory];
  if (!dir.size) return {};
  const auto functions = at.read<uint32_t>(dir.rva + 20);
  const auto names = at.read<uint32_t>(dir.rva + 24);
  const auto functionTable = at.read<uint32_t>(dir.rva + 28);
  const auto nameTable = at.read<uint32_t>(dir.rva + 32);
  const auto ordinalTable = at.read<uint32_t>(dir.rva + 36);
  if (!functions || !names || !functionTable || !nameTable || !ordinalTable)
    return fieldError(image, "export directory", "header is not inside a section's raw data");
  if (*functions > kMaxExports || *names > *functions)
    return fieldError(image, "export directory.NumberOfFunctions",
                      fmt::format("{} functions / {} names is not plausible", *functions, *names));
  if (*functions && !image.fileOffset(*functionTable, *functions * 4))
    return fieldError(image, "export directory.AddressOfFunctions",
                      fmt::format("table at 0x{:x} lies outside the image", *functionTable));
  if (*names && (!image.fileOffset(*nameTable, *names * 4) || !image.fileOffset(*ordinalTable, *names * 2)))
    return fieldError(image, "export directory.AddressOfNames", "name or ordinal table lies outside the image");
  for (uint32_t i = 0; i < *names; ++i) {
    const uint32_t nameRva = *at.read<uint32_t>(*nameTable + 4 * i);
    if (!at.cString(nameRva))
      return fieldError(image, fmt::format("export name[{}]", i),
                        fmt::format("RVA 0x{:x} is not a terminated string in the image", nameRva));
    if (*at.read<uint16_t>(*ordinalTable + 2 * i) >= *functions)
      return fieldError(image, fmt::format("export ordinal[{}]", i), "indexes past the function table");
  }
  for (uint32_t i = 0; i < *functions; ++i) {
    const uint32_t rva = *at.read<uint32_t>(*functionTable + 4 * i);
    if (rva >= image.sizeOfImage)
      return fieldError(image, fmt::format("export function[{}]", i),
                        fmt::format("RVA 0x{:x} lies outside the image", rva));
  }
  return {};
}

Result<void> validateImports(const PeImage& image, const RvaReader& at) {
  const DataDirectory dir = image.directories[kImportDirectory];
  if (!dir.size) return {};
  for (uint32_t d = 0;; ++d) {
    if (d == kMaxImportDescriptors) return fieldError(image, "import directory", "descriptor list is not terminated");
    const uint32_t desc = dir.rva + 20 * d;
    const auto lookup = at.read<uint32_t>(desc);
    const auto name = at.read<uint32_t>(desc + 12);
    const auto iat = at.read<uint32_t>(desc + 16);
    if (!lookup || !name || !iat)
      return fieldError(image, fmt::format("import descriptor[{}]", d), "lies outside the image");
    if (*lookup == 0 && *name == 0 && *iat == 0) return {};
    if (!at.cString(*name))
      return fieldError(image, fmt::format("import descriptor[{}].Name", d),
                        fmt::format("RVA 0x{:x} is not a terminated string in the image", *name));
    const uint32_t thunks = *lookup ? *lookup : *iat;
    for (uint32_t i = 0;; ++i) {
      if (i == kMaxImportsPerDll)
        return fieldError(image, fmt::format("import descriptor[{}]", d), "thunk list is not terminated");
      const auto thunk = at.read<uint64_t>(thunks + 8 * i);
      if (!thunk || !at.read<uint64_t>(*iat + 8 * i))
        return fieldError(image, fmt::format("import descriptor[{}].FirstThunk", d),
                          fmt::format("thunk {} lies outside the image", i));
      if (*thunk == 0) break;
      if (*thunk >> 63) continue;  // by ordinal
      if (*thunk >= image.sizeOfImage || !at.cString(static_cast<uint32_t>(*thunk) + 2))
        return fieldError(image, fmt::format("import descriptor[{}] thunk[{}]", d, i),
                          fmt::format("hint/name RVA 0x{:x} is not in the image", *thunk));
    }
  }
}

Result<void> validateRelocations(const PeImage& image, const RvaReader& at) {
  const DataDirectory dir = image.directories[kBaseRelocationDirectory];
  uint32_t offset = 0;
  while (offset + 8 <= dir.size) {
    const auto page = at.read<uint32_t>(dir.rva + offset);
    const auto blockSize = at.read<uint32_t>(dir.rva + offset + 4);
    if (!page || !blockSize) return fieldError(image, "basereloc directory", "block header lies outside the image");
    // A block smaller than its header would loop forever in a naive walker.
    if (*blockSize < 8 || *blockSize > dir.size - offset || *blockSize % 2)
      return fieldError(
          image, fmt::format("basereloc block at +0x{:x}.SizeOfBlock", offset),
          fmt::format("0x{:x} does not fit the directory (0x{:x} bytes left)", *blockSize, dir.size - offset));
    if (!image.fileOffset(dir.rva + offset, *blockSize))
      return fieldError(image, "basereloc directory", "block lies outside the section raw data");
    for (uint32_t e = 8; e < *blockSize; e += 2) {
      const uint16_t entry = *at.read<uint16_t>(dir.rva + offset + e);
      const uint8_t type = entry >> 12;
      if (type == kRelAbsolute) continue;
      if (type != kRelDir64 && type != kRelHighLow)
        return fieldError(image, fmt::format("basereloc entry at +0x{:x}", offset + e),
                          fmt::format("type {} is not supported (DIR64 or HIGHLOW)", type));
      const uint64_t target = uint64_t{*page} + (entry & 0xFFF);
      if (target + (type == kRelDir64 ? 8 : 4) > image.sizeOfImage)
        return fieldError(image, fmt::format("basereloc entry at +0x{:x}", offset + e),
                          fmt::format("target RVA 0x{:x} lies outside the image", target));
    }
    offset += *blockSize;
  }
  return {};
}

}  // namespace

Result<void> validateHeaders(PeImage& image) {
  const ByteReader file(image.file);
  if (image.file.empty()) return fieldError(image, "file", "is empty");
  if (file.size() < kDosHeaderSize)
    return fieldError(image, "DOS header",
                      fmt::format("truncated: {} bytes, a DOS header needs {}", file.size(), kDosHeaderSize));
  if (*file.u16(0) != kDosMagic)
    return fieldError(image, "DOS header.e_magic", fmt::format("0x{:04x} is not 'MZ'", *file.u16(0)));
  const uint32_t lfanew = *file.u32(kLfanewOffset);
  if (!file.contains(lfanew, 4 + kFileHeaderSize))
    return fieldError(image, "DOS header.e_lfanew",
                      fmt::format("0x{:x} points past the end of the file (size {})", lfanew, file.size()));
  if (*file.u32(lfanew) != kPeSignature)
    return fieldError(image, "PE signature",
                      fmt::format("0x{:08x} at 0x{:x} is not 'PE\\0\\0'", *file.u32(lfanew), lfanew));
  const uint32_t fileHeader = lfanew + 4;
  image.machine = *file.u16(fileHeader);
  const uint16_t sectionCount = *file.u16(fileHeader + 2);
  image.timeDateStamp = *file.u32(fileHeader + 4);
  const uint16_t optionalSize = *file.u16(fileHeader + 16);
  image.characteristics = *file.u16(fileHeader + 18);

  // ARM64X images say Arm64; Arm64EC images say x64 and carry CHPE metadata.
  image.arch = archForPeMachine(image.machine);
  if (!image.arch)
    return fieldError(image, "FileHeader.Machine",
                      fmt::format("0x{:04x} is not x64 (0x8664) or Arm64 (0xaa64)", image.machine));
  if (sectionCount == 0 || sectionCount > kMaxSections)
    return fieldError(image, "FileHeader.NumberOfSections",
                      fmt::format("{} is not in 1..{}", sectionCount, kMaxSections));

  const uint32_t optional = fileHeader + kFileHeaderSize;
  if (optionalSize < kOptionalHeader64FixedSize || !file.contains(optional, optionalSize))
    return fieldError(image, "FileHeader.SizeOfOptionalHeader",
                      fmt::format("{} bytes at 0x{:x}: truncated or too small for PE32+ ({} bytes)", optionalSize,
                                  optional, kOptionalHeader64FixedSize));
  const uint16_t magic = *file.u16(optional + opt::kMagic);
  if (magic != kPe32PlusMagic)
    return fieldError(image, "OptionalHeader.Magic",
                      fmt::format("0x{:x}: only PE32+ (0x20b) images are supported", magic));
  image.entryRva = *file.u32(optional + opt::kAddressOfEntryPoint);
  image.imageBase = *file.u64(optional + opt::kImageBase);
  image.sectionAlignment = *file.u32(optional + opt::kSectionAlignment);
  const uint32_t fileAlignment = *file.u32(optional + opt::kFileAlignment);
  image.sizeOfImage = *file.u32(optional + opt::kSizeOfImage);
  image.sizeOfHeaders = *file.u32(optional + opt::kSizeOfHeaders);
  image.checkSum = *file.u32(optional + opt::kCheckSum);
  image.dllCharacteristics = *file.u16(optional + opt::kDllCharacteristics);
  if (!isPowerOfTwo(image.sectionAlignment) || image.sectionAlignment < 0x200 || image.sectionAlignment > 0x10000)
    return fieldError(image, "OptionalHeader.SectionAlignment",
                      fmt::format("0x{:x} is not a power of two in 0x200..0x10000", image.sectionAlignment));
  if (!isPowerOfTwo(fileAlignment) || fileAlignment > image.sectionAlignment)
    return fieldError(image, "OptionalHeader.FileAlignment",
                      fmt::format("0x{:x} is not a power of two <= SectionAlignment", fileAlignment));
  if (image.sizeOfImage == 0 || image.sizeOfImage > kMaxImageSize)
    return fieldError(image, "OptionalHeader.SizeOfImage",
                      fmt::format("0x{:x} is not in 1..0x{:x}", image.sizeOfImage, kMaxImageSize));
  if (image.imageBase % 0x10000 || image.imageBase + image.sizeOfImage < image.imageBase ||
      image.imageBase + image.sizeOfImage > (uint64_t{1} << 47))
    return fieldError(image, "OptionalHeader.ImageBase",
                      fmt::format("0x{:x} is not a 64 KiB-aligned user-mode address", image.imageBase));
  if (image.sizeOfHeaders > file.size() || image.sizeOfHeaders > image.sizeOfImage ||
      image.sizeOfHeaders < optional + optionalSize)
    return fieldError(image, "OptionalHeader.SizeOfHeaders",
                      fmt::format("0x{:x} does not cover the headers or exceeds the file/image", image.sizeOfHeaders));

  const uint32_t directoryCount = std::min(*file.u32(optional + opt::kNumberOfRvaAndSizes), kDataDirectoryCount);
  if (kOptionalHeader64FixedSize + directoryCount * 8 > optionalSize)
    return fieldError(image, "OptionalHeader.NumberOfRvaAndSizes",
                      fmt::format("{} directories do not fit SizeOfOptionalHeader {}", directoryCount, optionalSize));
  for (uint32_t i = 0; i < directoryCount; ++i) {
    image.directories[i].rva = *file.u32(optional + opt::kDataDirectories + 8 * i);
    image.directories[i].size = *file.u32(optional + opt::kDataDirectories + 8 * i + 4);
  }
  if (auto sections = validateSections(image, file, optional + optionalSize, sectionCount); !sections) return sections;
  if (image.entryRva >= image.sizeOfImage)
    return fieldError(image, "OptionalHeader.AddressOfEntryPoint",
                      fmt::format("0x{:x} lies outside the image", image.entryRva));
  return {};
}

Result<void> validateDirectories(const PeImage& image) {
  for (uint32_t i = 0; i < kDataDirectoryCount; ++i) {
    const DataDirectory dir = image.directories[i];
    if (!dir.rva && !dir.size) continue;
    const std::string field = fmt::format("data directory[{}] ({})", i, directoryName(i));
    if (i == kSecurityDirectory) {  // a file offset, not an RVA
      if (!ByteReader(image.file).contains(dir.rva, dir.size))
        return fieldError(image, field,
                          fmt::format("[0x{:x}, +0x{:x}) lies past the end of the "
                                      "file",
                                      dir.rva, dir.size));
      continue;
    }
    if (uint64_t{dir.rva} + dir.size > image.sizeOfImage)
      return fieldError(image, field,
                        fmt::format("[0x{:x}, +0x{:x}) lies outside the image (SizeOfImage 0x{:x})", dir.rva, dir.size,
                                    image.sizeOfImage));
    // The directories we read must also be backed by file bytes.
    const bool read = i == kExportDirectory || i == kImportDirectory || i == kExceptionDirectory ||
                      i == kBaseRelocationDirectory || i == kLoadConfigDirectory;
    if (read && dir.size && !image.fileOffset(dir.rva, dir.size))
      return fieldError(image, field,
                        fmt::format("[0x{:x}, +0x{:x}) is not inside one section's raw data", dir.rva, dir.size));
  }
  const RvaReader at(image);
  if (auto r = validateExports(image, at); !r) return r;
  if (auto r = validateImports(image, at); !r) return r;
  if (auto r = validateRelocations(image, at); !r) return r;
  return {};
}

}  // namespace hph::pe
