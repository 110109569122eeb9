#include "patch/PatchTable.h"

#include <fmt/format.h>

#include "emu/pe/HotPatchTable.h"
#include "support/FileName.h"

namespace hph {
namespace {

std::string describeSequence(uint32_t sequence) {
  return sequence ? fmt::format("patch {}", sequence) : "the unpatched image";
}

}  // namespace

Result<PatchTableRequest> readPatchTable(const PeImage& base, const PeImage& patch, uint32_t appliedSequence,
                                         const std::string& origin) {
  const HotPatchInfo& info = *patch.hotPatch;
  auto fail = [&](const std::string& field, const std::string& problem) {
    return badInput(fmt::format("{}: {}: {}: {}", origin, fileNameOf(patch.path), field, problem));
  };
  const HotPatchBase* match = nullptr;
  size_t matchIndex = 0;
  for (size_t i = 0; i < info.bases.size() && !match; ++i)
    if (info.bases[i].originalTimeDateStamp == base.timeDateStamp && info.bases[i].originalCheckSum == base.checkSum)
      match = &info.bases[i], matchIndex = i;
  if (!match) {
    const HotPatchBase& first = info.bases.front();
    const bool stampDiffers = first.originalTimeDateStamp != base.timeDateStamp;
    return fail(stampDiffers ? "HotPatchBase[0].OriginalTimeDateStamp" : "HotPatchBase[0].OriginalCheckSum",
                fmt::format("names a base with timestamp 0x{:08x} and checksum 0x{:08x}; {} has 0x{:08x} and "
                            "0x{:08x} (not this patch's base image)",
                            first.originalTimeDateStamp, first.originalCheckSum, fileNameOf(base.path),
                            base.timeDateStamp, base.checkSum));
  }
  const std::string field = fmt::format("HotPatchBase[{}]", matchIndex);
  if (match->sequenceNumber != appliedSequence)
    return fail(field + ".SequenceNumber",
                fmt::format("applies over {}, but {} is at {}", describeSequence(match->sequenceNumber),
                            fileNameOf(base.path), describeSequence(appliedSequence)));
  PatchTableRequest out;
  out.sequenceNumber = info.sequenceNumber;
  for (size_t i = 0; i < match->entries.size(); ++i) {
    const HotPatchEntry& e = match->entries[i];
    const std::string entry = fmt::format("{}.PatchTable[{}]", field, i);
    if (e.type == pe::kHotPatchAbsolute) {
      if (e.targetRva >= base.sizeOfImage)
        return fail(entry + ".TargetRva", fmt::format("0x{:x} lies outside {}", e.targetRva, fileNameOf(base.path)));
      if (!patch.fileOffset(e.sourceRva, 8) && patch.bytesAt(e.sourceRva, 8).size() != 8)
        return fail(entry + ".SourceRva", fmt::format("0x{:x} is not an 8-byte cell of the patch", e.sourceRva));
      out.cells.emplace_back(e.sourceRva, e.targetRva);
      continue;
    }
    const FunctionInfo* target = base.findFunction(fmt::format("rva:0x{:x}", e.targetRva));
    const FunctionInfo* source = patch.findFunction(fmt::format("rva:0x{:x}", e.sourceRva));
    if (!target)
      return fail(entry + ".TargetRva",
                  fmt::format("0x{:x} is not a function of {}", e.targetRva, fileNameOf(base.path)));
    if (!source) return fail(entry + ".SourceRva", fmt::format("0x{:x} is not a function of the patch", e.sourceRva));
    out.functions.emplace_back(target->begin, source->begin);
  }
  return out;
}

}  // namespace hph
