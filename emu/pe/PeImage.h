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

// An x64 code range and the entry point the emulator enters it through.
struct ChpeEntryPointRange {
  uint32_t begin = 0, end = 0, entry = 0;  // RVAs
};

// The loader's shortcut for an x64 caller: a call to `source` (an x64 fast-forward
// sequence) goes to `destination` (the Arm64EC body) directly.
struct ChpeRedirection {
  uint32_t source = 0, destination = 0;  // RVAs
};

// The 8-byte slots the loader fills with the emulator's routines (RVAs; 0 when absent):
// the boundary between the two kinds of code that a hybrid process crosses.
struct ChpeDispatchSlots {
  uint32_t callNoRedirect = 0;  // __os_arm64x_dispatch_call_no_redirect (exit thunks)
  uint32_t ret = 0;             // __os_arm64x_dispatch_ret (entry thunks return through it)
  uint32_t call = 0;            // __os_arm64x_dispatch_call / check_call
  uint32_t icall = 0;           // __os_arm64x_dispatch_icall / check_icall (indirect calls)
  uint32_t icallCfg = 0;        // __os_arm64x_dispatch_icall_cfg
  uint32_t fptr = 0;            // __os_arm64x_dispatch_fptr
  uint32_t getX64Information = 0;
  uint32_t setX64Information = 0;
};

// One Arm64EC function as the hybrid metadata and its code describe it.
struct HybridFunction {
  std::string name;      // the export naming it
  uint32_t body = 0;     // RVA of the Arm64EC code
  uint32_t bodyEnd = 0;  // exclusive: its ExtraRFETable entry, else the code up to the next function
  bool bodyEndEstimated = false;
  uint32_t fastForward = 0;  // RVA of the x64 fast-forward sequence its export points at (0: none)
  uint32_t entryThunk = 0;   // RVA named by the word at body-4 (x64 callers enter through it); 0: none
  // Arm64EC code takes the address of its x64 entry (clang's `#f$hybpatch_thunk`): its
  // Arm64EC callers go through the x64 entry too, so a patch there reaches them.
  bool hybridPatchable = false;
};

struct ChpeInfo {
  uint32_t version = 0;
  std::vector<ChpeRange> codeMap;  // sorted, disjoint
  std::vector<ChpeEntryPointRange> entryPoints;
  std::vector<ChpeRedirection> redirections;
  ChpeDispatchSlots dispatch;
  // The Arm64 exception table of the Arm64EC code (the PE's own holds the x64 code's).
  uint32_t extraRfeTable = 0, extraRfeTableSize = 0;
  std::vector<HybridFunction> functions;  // by body RVA
  // Every Arm64EC function found with an entry-thunk word at body-4, exported or not (x64
  // code given the address of one enters it through that thunk too): (body, thunk) RVAs,
  // by body.
  std::vector<std::pair<uint32_t, uint32_t>> entryThunkWords;

  const ChpeRange* rangeAt(uint32_t rva) const;
};

// One ARM64X dynamic value relocation (emu/pe/Arm64xRelocations): what the loader of an
// x64 process changes in an ARM64X image to see its Arm64EC view.
struct Arm64xFixup {
  enum class Kind : uint8_t { kZeroFill, kValue, kDelta } kind = Kind::kValue;
  uint32_t rva = 0;
  uint8_t size = 0;    // bytes it writes (kDelta: the 4-byte field it adds to)
  uint64_t value = 0;  // kValue
  int64_t delta = 0;   // kDelta
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
  // ARM64X (a native Arm64 view whose DVRT has an ARM64X entry, which turns it into an
  // Arm64EC view): the fixups. Its CHPE metadata serves the Arm64EC view and is read there
  // (pe::arm64ecView).
  bool isArm64x = false;
  std::vector<Arm64xFixup> arm64x;

  const SectionInfo* sectionAt(uint32_t rva) const;
  // File offset of `length` bytes at rva, when they all come from one section's raw data
  // (or the headers).
  std::optional<uint32_t> fileOffset(uint32_t rva, uint32_t length) const;
  // The image's bytes at rva as mapped: raw data, zero-filled where the section's
  // virtual size exceeds its raw data. Empty when rva is outside every section.
  std::vector<uint8_t> bytesAt(uint32_t rva, uint32_t length) const;
  // The parts of [rva, rva + length) that lie in sections, one [begin, end) per section, in
  // section order: a code-map range may run across sections (lld puts .hexpthk after .text).
  std::vector<std::pair<uint32_t, uint32_t>> sectionPartsOf(uint32_t rva, uint32_t length) const;

  // CHPE metadata present: read (chpe), or an ARM64X native view's, which serves its
  // Arm64EC view (H5 and the one-kind-of-code rule go by this).
  bool hasChpeMetadata() const { return isArm64x || (loadConfig && loadConfig->chpeMetadataPointer); }

  const FunctionInfo* findFunction(std::string_view nameOrRva) const;
  const FunctionInfo* functionContaining(uint32_t rva) const;
};

// Validates, then parses. Errors are one line: "<path>: <field>: <problem>".
Result<PeImage> readPeImage(const std::string& path);
Result<PeImage> parsePeImage(std::vector<uint8_t> file, const std::string& path);

}  // namespace hph
