// The parsed, validated view of one PE image that the rest of the harness works from.
// Everything in it has been bounds-checked: RVAs lie inside the image, ranges inside
// their sections.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "emu/core/Arch.h"
#include "support/Result.h"

namespace hph {

struct DataDirectory {
  uint32_t rva = 0;
  uint32_t size = 0;
};

struct SectionInfo {
  std::string name;
  uint32_t virtualAddress = 0;
  uint32_t virtualSize = 0;
  uint32_t rawOffset = 0;
  uint32_t rawSize = 0;
  uint32_t characteristics = 0;
  bool executable() const;
  uint32_t end() const { return virtualAddress + std::max(virtualSize, rawSize); }
};

struct ExportInfo {
  std::string name;  // empty for ordinal-only exports
  uint16_t ordinal = 0;
  uint32_t rva = 0;
  bool forwarded = false;  // rva points at a "dll.name" string inside the export directory
};

struct ImportInfo {
  std::string dll;
  std::string function;  // "#12" for an import by ordinal
  uint32_t iatRva = 0;   // the slot the loader fills with the function's address
};

struct BaseRelocation {
  uint32_t rva = 0;
  uint8_t type = 0;
};

struct FunctionInfo {
  std::string name;    // export name, or "sub_<rva>" for .pdata-only functions
  uint32_t begin = 0;  // RVA
  uint32_t end = 0;    // RVA, exclusive
  bool exported = false;
  bool hasUnwindInfo = false;    // has a .pdata entry
  bool lengthEstimated = false;  // no .pdata: end found by decoding up to padding
};

struct LoadConfigInfo {
  uint32_t rva = 0;
  uint32_t size = 0;                 // the structure's own Size field
  uint64_t securityCookie = 0;       // VA
  uint64_t chpeMetadataPointer = 0;  // VA, 0 when absent
  uint32_t hotPatchTableOffset = 0;  // RVA, 0 when absent
};

// Hybrid (Arm64EC / ARM64X) metadata, read by hand: LIEF 0.9 does not parse it.
struct ChpeRange {
  uint32_t begin = 0;  // RVA
  uint32_t length = 0;
  enum class Kind : uint8_t { kArm64 = 0, kArm64ec = 1, kAmd64 = 2 } kind = Kind::kArm64;
};

struct ChpeInfo {
  uint32_t version = 0;
  std::vector<ChpeRange> codeMap;
};

// One entry of a hotpatch image's patch table (docs/patches.md).
struct HotPatchEntry {
  uint32_t type = 0;       // kHotPatchFunction or kHotPatchAbsolute (emu/pe/HotPatchTable.h)
  uint32_t sourceRva = 0;  // in the patch image
  uint32_t targetRva = 0;  // in the base image
};

// IMAGE_HOT_PATCH_BASE: one base image the patch applies to, and what it patches there.
struct HotPatchBase {
  uint32_t sequenceNumber = 0;  // the patch this one applies over (0: the unpatched image)
  uint32_t flags = 0;
  uint32_t originalTimeDateStamp = 0;
  uint32_t originalCheckSum = 0;
  std::vector<HotPatchEntry> entries;
};

// IMAGE_HOT_PATCH_INFO.
struct HotPatchInfo {
  uint32_t version = 0;
  uint32_t sequenceNumber = 0;  // this patch's place in the cumulative series (1, 2, ...)
  std::vector<HotPatchBase> bases;
};

struct PeImage {
  std::string path;  // as given by the user; every error message starts with it
  std::vector<uint8_t> file;
  const Arch* arch = nullptr;
  uint16_t machine = 0;
  uint16_t characteristics = 0;
  uint16_t dllCharacteristics = 0;
  uint64_t imageBase = 0;
  uint32_t sizeOfImage = 0;
  uint32_t sizeOfHeaders = 0;
  uint32_t sectionAlignment = 0;
  uint32_t entryRva = 0;
  uint32_t timeDateStamp = 0;
  uint32_t checkSum = 0;
  std::array<DataDirectory, 16> directories{};
  std::vector<SectionInfo> sections;
  std::vector<ExportInfo> exports;
  std::vector<ImportInfo> imports;
  std::vector<BaseRelocation> relocations;
  std::vector<FunctionInfo> functions;
  std::optional<LoadConfigInfo> loadConfig;
  std::optional<ChpeInfo> chpe;
  std::optional<HotPatchInfo> hotPatch;  // a hotpatch image's own table

  const SectionInfo* sectionAt(uint32_t rva) const;
  // File offset of `length` bytes at rva, when they all come from one section's raw data
  // (or the headers).
  std::optional<uint32_t> fileOffset(uint32_t rva, uint32_t length) const;
  // The image's bytes at rva as mapped: raw data, zero-filled where the section's
  // virtual size exceeds its raw data. Empty when rva is outside every section.
  std::vector<uint8_t> bytesAt(uint32_t rva, uint32_t length) const;

  const FunctionInfo* findFunction(std::string_view nameOrRva) const;
  const FunctionInfo* functionContaining(uint32_t rva) const;
};

// Validates, then parses. Errors are one line: "<path>: <field>: <problem>".
Result<PeImage> readPeImage(const std::string& path);
Result<PeImage> parsePeImage(std::vector<uint8_t> file, const std::string& path);

}  // namespace hph
