// Structure-aware fuzzing of one table inside a PE image. Random mutation of a whole image
// rarely keeps the headers, section table and load config intact long enough to reach a
// table they point at; these targets keep a corpus image as it is and put the fuzzer's
// bytes where the table is (and in the slack after it), so every input reaches the table's
// reader. Bad bytes must be refused as bad input, naming the field, never crash.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "emu/pe/Arm64xRelocations.h"
#include "emu/pe/PeImage.h"
#include "support/InputFile.h"

namespace hph::fuzz {

// A corpus image with room for a table: bytes [offset, offset + room) of the file are the
// fuzzer's to write.
struct TableSlot {
  std::vector<uint8_t> file;
  uint32_t offset = 0;
  uint32_t room = 0;
};

// The slot's image with `data` written at the table (at most `room` bytes), parsed.
inline void parseWithTable(const TableSlot& slot, const uint8_t* data, size_t size) {
  std::vector<uint8_t> file = slot.file;
  std::memcpy(file.data() + slot.offset, data, std::min<size_t>(size, slot.room));
  auto image = parsePeImage(std::move(file), "fuzz.dll");
  if (!image) return;
  uint64_t sum = 0;  // touch what was read, under the sanitizers
  if (image->chpe) {
    for (const ChpeRange& r : image->chpe->codeMap) sum += r.begin + r.length;
    for (const HybridFunction& f : image->chpe->functions) sum += f.body + f.bodyEnd + f.entryThunk + f.name.size();
  }
  if (image->hotPatch)
    for (const HotPatchBase& base : image->hotPatch->bases) sum += base.entries.size();
  // An ARM64X image's fixups make its Arm64EC view, which is parsed in turn.
  if (image->isArm64x)
    if (auto view = pe::arm64ecView(*image); view && view->chpe) sum += view->chpe->functions.size();
  (void)sum;
}

// A corpus image and what parsePeImage reads of it; aborts when it cannot (the target is
// then built wrong, which no input should look like).
inline std::pair<std::vector<uint8_t>, PeImage> corpusImage(const char* name) {
  auto file = readInputFile(std::string(HPH_CORPUS_DIR) + "/images/" + name, 1u << 24);
  if (!file) std::abort();
  auto image = parsePeImage(*file, name);
  if (!image) std::abort();
  return {std::move(*file), std::move(*image)};
}

// The file bytes from `rva` to the end of its section's raw data.
inline TableSlot slotAt(std::vector<uint8_t> file, const PeImage& image, uint32_t rva) {
  const SectionInfo* section = image.sectionAt(rva);
  const auto offset = image.fileOffset(rva, 1);
  if (!section || !offset) std::abort();
  const uint32_t room = section->virtualAddress + section->rawSize - rva;
  return {std::move(file), *offset, room};
}

}  // namespace hph::fuzz
