// LIEF headers are included here only: the package also drops stray headers into
// /usr/include (NOTES-deps), which must not leak into the rest of the build.
#include "emu/pe/LiefReader.h"

#include <LIEF/PE.hpp>
#include <LIEF/logging.hpp>
#include <fmt/format.h>

#include <cstring>

#include "emu/pe/PeFormat.h"
#include "emu/pe/PrintableName.h"

namespace hph::pe {
namespace {

// LIEF parses much more than we use (resources, debug, TLS, signatures, COFF symbols),
// and does so without bounds checks. It gets a copy in which everything we do not ask
// it for is blanked out, so garbage there cannot reach it.
std::vector<uint8_t> sanitizedCopy(const PeImage& image) {
  std::vector<uint8_t> copy = image.file;
  uint32_t lfanew;
  std::memcpy(&lfanew, copy.data() + kLfanewOffset, 4);
  const uint32_t fileHeader = lfanew + 4;
  std::memset(copy.data() + fileHeader + 8, 0, 8);  // PointerToSymbolTable, NumberOfSymbols
  const uint32_t directories = fileHeader + kFileHeaderSize + opt::kDataDirectories;
  for (uint32_t i = 0; i < kDataDirectoryCount; ++i) {
    if (i == kExportDirectory || i == kImportDirectory || i == kBaseRelocationDirectory) continue;
    const uint64_t at = directories + 8 * i;
    if (at + 8 <= image.sizeOfHeaders && at + 8 <= copy.size()) std::memset(copy.data() + at, 0, 8);
  }
  return copy;
}

}  // namespace

Result<void> readWithLief(PeImage& image) {
  LIEF::Logger::disable();
  std::unique_ptr<LIEF::PE::Binary> binary;
  try {
    binary = LIEF::PE::Parser::parse(sanitizedCopy(image), image.path);
  } catch (const std::exception& e) {
    return badInput(fmt::format("{}: LIEF: {}", image.path, e.what()));
  }
  if (!binary) return badInput(fmt::format("{}: LIEF could not parse the image", image.path));

  try {
    const DataDirectory exportDir = image.directories[kExportDirectory];
    if (binary->has_exports()) {
      for (const LIEF::PE::ExportEntry& entry : binary->get_export().entries()) {
        ExportInfo info;
        info.name = printableName(entry.name());
        info.ordinal = entry.ordinal();
        info.rva = entry.address();
        info.forwarded = info.rva >= exportDir.rva && info.rva < exportDir.rva + exportDir.size;
        if (info.rva) image.exports.push_back(std::move(info));
      }
    }
    if (binary->has_imports()) {
      for (const LIEF::PE::Import& import : binary->imports()) {
        uint32_t slot = import.import_address_table_rva();
        for (const LIEF::PE::ImportEntry& entry : import.entries()) {
          ImportInfo info;
          info.dll = printableName(import.name());
          info.function = entry.is_ordinal() ? fmt::format("#{}", entry.ordinal()) : printableName(entry.name());
          info.iatRva = slot;
          slot += 8;
          image.imports.push_back(std::move(info));
        }
      }
    }
    if (binary->has_relocations()) {
      for (const LIEF::PE::Relocation& block : binary->relocations()) {
        for (const LIEF::PE::RelocationEntry& entry : block.entries()) {
          const auto type = static_cast<uint8_t>(entry.type());
          if (type == kRelAbsolute) continue;
          image.relocations.push_back({block.virtual_address() + entry.position(), type});
        }
      }
    }
  } catch (const std::exception& e) {
    return badInput(fmt::format("{}: LIEF: {}", image.path, e.what()));
  }
  return {};
}

}  // namespace hph::pe
