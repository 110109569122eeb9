#include "emu/pe/HotPatchTable.h"

#include <fmt/format.h>

#include "emu/pe/ByteReader.h"

namespace hph::pe {
namespace {

// Reads little-endian words at RVAs of the image, naming the structure and field that
// did not fit in any error.
class TableReader {
 public:
  explicit TableReader(const PeImage& image) : image_(image) {}

  Result<uint32_t> u32(uint32_t rva, std::string_view field) const {
    const auto offset = image_.fileOffset(rva, 4);
    const auto value = offset ? ByteReader(image_.file).u32(*offset) : std::nullopt;
    if (!value) return fail(field, fmt::format("0x{:x} is not inside a section's raw data", rva));
    return *value;
  }
  Error fail(std::string_view field, std::string problem) const {
    return badInput(fmt::format("{}: {}: {}", image_.path, field, problem));
  }
  bool inImage(uint32_t rva) const { return rva < image_.sizeOfImage; }

 private:
  const PeImage& image_;
};

Result<HotPatchBase> readBase(const TableReader& in, uint32_t rva, uint32_t index) {
  const std::string name = fmt::format("HotPatchBase[{}]", index);
  HotPatchBase base;
  uint32_t fields[8];
  for (uint32_t i = 0; i < 8; ++i) {
    auto v = in.u32(rva + 4 * i, name);
    if (!v) return v.error();
    fields[i] = *v;
  }
  base.sequenceNumber = fields[0];
  base.flags = fields[1];
  base.originalTimeDateStamp = fields[2];
  base.originalCheckSum = fields[3];
  const uint32_t table = fields[6];
  if (!table) return in.fail(name + ".PatchTable", "is 0 (no patch table)");
  auto count = in.u32(table, name + ".PatchTable");
  if (!count) return count.error();
  if (*count == 0 || *count > kMaxHotPatchEntries)
    return in.fail(name + ".PatchTable", fmt::format("{} entries (expected 1..{})", *count, kMaxHotPatchEntries));
  for (uint32_t i = 0; i < *count; ++i) {
    const std::string entryName = fmt::format("{}.PatchTable[{}]", name, i);
    const uint32_t at = table + 4 + i * kHotPatchEntrySize;
    auto type = in.u32(at, entryName);
    auto source = in.u32(at + 4, entryName);
    auto target = in.u32(at + 8, entryName);
    if (!type || !source || !target) return in.fail(entryName, "lies outside the image's raw data");
    if (*type != kHotPatchFunction && *type != kHotPatchAbsolute)
      return in.fail(entryName + ".Type", fmt::format("0x{:x} is neither FUNCTION (0x{:x}) nor ABSOLUTE (0x{:x})",
                                                      *type, kHotPatchFunction, kHotPatchAbsolute));
    if (!in.inImage(*source))
      return in.fail(entryName + ".SourceRva", fmt::format("0x{:x} lies outside the patch image", *source));
    base.entries.push_back({*type, *source, *target});
  }
  return base;
}

}  // namespace

Result<void> readHotPatchTable(PeImage& image) {
  if (!image.loadConfig || !image.loadConfig->hotPatchTableOffset) return {};
  const TableReader in(image);
  const uint32_t rva = image.loadConfig->hotPatchTableOffset;
  uint32_t fields[7];
  for (uint32_t i = 0; i < 7; ++i) {
    auto v = in.u32(rva + 4 * i, "HotPatchInfo");
    if (!v) return v.error();
    fields[i] = *v;
  }
  HotPatchInfo info;
  info.version = fields[0];
  const uint32_t size = fields[1], list = fields[3], count = fields[4];
  info.sequenceNumber = fields[2];
  if (size < kHotPatchInfoSize)
    return in.fail("HotPatchInfo.Size",
                   fmt::format("{} is smaller than the {}-byte structure", size, kHotPatchInfoSize));
  if (info.sequenceNumber == 0) return in.fail("HotPatchInfo.SequenceNumber", "is 0; the first patch of a series is 1");
  if (count == 0 || count > 64)
    return in.fail("HotPatchInfo.BaseImageCount", fmt::format("{} (expected 1..64)", count));
  for (uint32_t i = 0; i < count; ++i) {
    auto baseRva = in.u32(list + 4 * i, "HotPatchInfo.BaseImageList");
    if (!baseRva) return baseRva.error();
    auto base = readBase(in, *baseRva, i);
    if (!base) return base.error();
    if (base->sequenceNumber >= info.sequenceNumber)
      return in.fail(
          fmt::format("HotPatchBase[{}].SequenceNumber", i),
          fmt::format("{} is not below the patch's own SequenceNumber {}", base->sequenceNumber, info.sequenceNumber));
    info.bases.push_back(std::move(base).value());
  }
  image.hotPatch = std::move(info);
  return {};
}

}  // namespace hph::pe
