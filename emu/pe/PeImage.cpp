#include "emu/pe/PeImage.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "emu/pe/FunctionTable.h"
#include "emu/pe/HotPatchTable.h"
#include "emu/pe/LiefReader.h"
#include "emu/pe/LoadConfig.h"
#include "emu/pe/PeFormat.h"
#include "emu/pe/PeValidator.h"
#include "emu/pe/UnwindTable.h"
#include "support/InputFile.h"
#include "support/NumberText.h"

namespace hph {

bool SectionInfo::executable() const { return characteristics & (pe::kSectionExecute | pe::kSectionCode); }

const SectionInfo* PeImage::sectionAt(uint32_t rva) const {
  for (const SectionInfo& s : sections)
    if (rva >= s.virtualAddress && rva < s.end()) return &s;
  return nullptr;
}

std::optional<uint32_t> PeImage::fileOffset(uint32_t rva, uint32_t length) const {
  const uint64_t end = uint64_t{rva} + length;
  if (end <= sizeOfHeaders) return end <= file.size() ? std::optional<uint32_t>(rva) : std::nullopt;
  for (const SectionInfo& s : sections)
    if (rva >= s.virtualAddress && end <= uint64_t{s.virtualAddress} + s.rawSize)
      return s.rawOffset + (rva - s.virtualAddress);
  return std::nullopt;
}

std::vector<uint8_t> PeImage::bytesAt(uint32_t rva, uint32_t length) const {
  const SectionInfo* s = sectionAt(rva);
  if (!s) return {};
  length = std::min<uint32_t>(length, s->end() - rva);
  std::vector<uint8_t> out(length, 0);
  const uint32_t offsetInSection = rva - s->virtualAddress;
  if (offsetInSection < s->rawSize && length > 0) {  // memcpy into no storage is undefined
    const uint32_t fromFile = std::min(length, s->rawSize - offsetInSection);
    std::memcpy(out.data(), file.data() + s->rawOffset + offsetInSection, fromFile);
  }
  return out;
}

std::vector<std::pair<uint32_t, uint32_t>> PeImage::sectionPartsOf(uint32_t rva, uint32_t length) const {
  std::vector<std::pair<uint32_t, uint32_t>> parts;
  for (const SectionInfo& s : sections) {
    const uint64_t begin = std::max<uint64_t>(rva, s.virtualAddress);
    const uint64_t end = std::min<uint64_t>(uint64_t{rva} + length, s.end());
    if (begin < end) parts.emplace_back(static_cast<uint32_t>(begin), static_cast<uint32_t>(end));
  }
  return parts;
}

const FunctionInfo* PeImage::findFunction(std::string_view nameOrRva) const {
  // "rva:0x1234" names a function by its entry RVA (design: explicit patch maps).
  if (nameOrRva.starts_with("rva:")) {
    const auto rva = parseUnsigned(nameOrRva.substr(4), {.max = UINT32_MAX});
    if (!rva) return nullptr;
    for (const FunctionInfo& f : functions)
      if (f.begin == *rva) return &f;
    return nullptr;
  }
  for (const FunctionInfo& f : functions)
    if (f.name == nameOrRva) return &f;
  return nullptr;
}

const ChpeRange* ChpeInfo::rangeAt(uint32_t rva) const {
  for (const ChpeRange& r : codeMap)
    if (rva >= r.begin && rva - r.begin < r.length) return &r;
  return nullptr;
}

const FunctionInfo* PeImage::functionContaining(uint32_t rva) const {
  for (const FunctionInfo& f : functions)
    if (rva >= f.begin && rva < f.end) return &f;
  return nullptr;
}

Result<PeImage> parsePeImage(std::vector<uint8_t> file, const std::string& path) {
  PeImage image;
  image.path = path;
  image.file = std::move(file);
  if (auto r = pe::validateHeaders(image); !r) return r.error();
  if (auto r = pe::validateDirectories(image); !r) return r.error();
  if (auto r = pe::readWithLief(image); !r) return r.error();
  if (auto r = pe::readLoadConfig(image); !r) return r.error();
  if (auto r = pe::readHotPatchTable(image); !r) return r.error();
  auto unwind = pe::readUnwindTable(image);
  if (!unwind) return unwind.error();
  image.functions = pe::buildFunctionTable(image, *unwind);
  return image;
}

Result<PeImage> readPeImage(const std::string& path) {
  // Bounded and regular files only: a directory or a device is named as such.
  auto bytes = readInputFile(path, pe::kMaxImageSize);
  if (!bytes) return bytes.error();
  return parsePeImage(std::move(bytes).value(), path);
}

}  // namespace hph
