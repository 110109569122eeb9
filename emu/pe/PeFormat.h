// PE/COFF layout facts used by the validator and the readers (Microsoft PE format spec).
#pragma once

#include <cstdint>
#include <string_view>

namespace hph::pe {

constexpr uint16_t kDosMagic = 0x5A4D;         // "MZ"
constexpr uint32_t kPeSignature = 0x00004550;  // "PE\0\0"
constexpr uint16_t kPe32PlusMagic = 0x20B;
constexpr uint16_t kPe32Magic = 0x10B;

constexpr uint32_t kDosHeaderSize = 64;
constexpr uint32_t kLfanewOffset = 0x3C;
constexpr uint32_t kFileHeaderSize = 20;
// FileHeader.Characteristics: the linker removed the base relocations; the image can
// only run at its preferred base.
constexpr uint16_t kFileRelocsStripped = 0x0001;
constexpr uint32_t kSectionHeaderSize = 40;
constexpr uint32_t kOptionalHeader64FixedSize = 112;  // up to NumberOfRvaAndSizes
constexpr uint32_t kDataDirectoryCount = 16;

// The Windows loader refuses more sections than this.
constexpr uint32_t kMaxSections = 96;
// Larger images are not something we are asked to emulate; bigger means corrupt.
constexpr uint32_t kMaxImageSize = 1u << 30;

enum Directory : uint32_t {
  kExportDirectory = 0,
  kImportDirectory = 1,
  kResourceDirectory = 2,
  kExceptionDirectory = 3,
  kSecurityDirectory = 4,
  kBaseRelocationDirectory = 5,
  kDebugDirectory = 6,
  kTlsDirectory = 9,
  kLoadConfigDirectory = 10,
  kIatDirectory = 12,
  kDelayImportDirectory = 13,
};

constexpr std::string_view directoryName(uint32_t index) {
  constexpr std::string_view names[] = {
      "export",    "import", "resource",    "exception",    "security", "basereloc",    "debug",       "architecture",
      "globalptr", "tls",    "load_config", "bound_import", "iat",      "delay_import", "clr_runtime", "reserved"};
  return index < kDataDirectoryCount ? names[index] : "unknown";
}

// Offsets into IMAGE_OPTIONAL_HEADER64.
namespace opt {
constexpr uint32_t kMagic = 0;
constexpr uint32_t kAddressOfEntryPoint = 16;
constexpr uint32_t kImageBase = 24;
constexpr uint32_t kSectionAlignment = 32;
constexpr uint32_t kFileAlignment = 36;
constexpr uint32_t kSizeOfImage = 56;
constexpr uint32_t kSizeOfHeaders = 60;
constexpr uint32_t kCheckSum = 64;
constexpr uint32_t kSubsystem = 68;
constexpr uint32_t kDllCharacteristics = 70;
constexpr uint32_t kNumberOfRvaAndSizes = 108;
constexpr uint32_t kDataDirectories = 112;
}  // namespace opt

// Offsets into IMAGE_LOAD_CONFIG_DIRECTORY64.
namespace loadcfg {
constexpr uint32_t kSize = 0x00;
constexpr uint32_t kSecurityCookie = 0x58;
constexpr uint32_t kGuardFlags = 0x90;
constexpr uint32_t kChpeMetadataPointer = 0xC8;
constexpr uint32_t kDynamicValueRelocTableOffset = 0xE0;
constexpr uint32_t kDynamicValueRelocTableSection = 0xE4;
constexpr uint32_t kHotPatchTableOffset = 0xF0;
}  // namespace loadcfg

// Base relocation types that matter for 64-bit images.
constexpr uint8_t kRelAbsolute = 0;
constexpr uint8_t kRelHighLow = 3;
constexpr uint8_t kRelDir64 = 10;

constexpr uint16_t kMachineAmd64 = 0x8664;
constexpr uint16_t kMachineArm64 = 0xAA64;
constexpr uint16_t kMachineArm64ec = 0xA641;
constexpr uint16_t kMachineArm64x = 0xA64E;

// Section characteristics.
constexpr uint32_t kSectionExecute = 0x20000000;
constexpr uint32_t kSectionRead = 0x40000000;
constexpr uint32_t kSectionWrite = 0x80000000;
constexpr uint32_t kSectionCode = 0x00000020;

}  // namespace hph::pe
