#include "emu/pe/FunctionTable.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace hph::pe {
namespace {

// Estimated end of a function with no .pdata: decode forward from its entry until the
// padding lld puts between functions, the next known function, or the section's end.
uint32_t estimateEnd(const PeImage& image, uint32_t begin, uint32_t limit) {
  const Arch& arch = *image.arch;
  const uint32_t paddingProbe = arch.facts().paddingProbeBytes;
  const std::vector<uint8_t> code = image.bytesAt(begin, limit - begin);
  uint32_t offset = 0;
  while (offset < code.size()) {
    std::span<const uint8_t> rest(code.data() + offset, code.size() - offset);
    // The entry is code even when it looks like padding (a function may start with udf #0).
    if (offset > 0 && rest.size() >= paddingProbe && arch.isPadding(rest.first(paddingProbe))) break;
    const DecodedInstruction insn = arch.decode(rest, image.imageBase + begin + offset);
    if (insn.length == 0) break;
    offset += insn.length;
  }
  return begin + std::max<uint32_t>(std::min<uint32_t>(offset, code.size()), 1);
}

}  // namespace

std::vector<FunctionInfo> buildFunctionTable(const PeImage& image, const std::vector<UnwindEntry>& unwind) {
  std::map<uint32_t, FunctionInfo> byStart;
  for (const UnwindEntry& entry : unwind) {
    if (entry.fragment) continue;
    FunctionInfo& f = byStart[entry.begin];
    f.begin = entry.begin;
    f.end = std::max(f.end, entry.end);
    f.hasUnwindInfo = true;
  }
  for (const ExportInfo& e : image.exports) {
    const SectionInfo* section = image.sectionAt(e.rva);
    if (e.forwarded || !section || !section->executable()) continue;  // data exports
    FunctionInfo& f = byStart[e.rva];
    f.begin = e.rva;
    f.exported = true;
    if (f.name.empty()) f.name = e.name.empty() ? fmt::format("#{}", e.ordinal) : e.name;
  }
  std::vector<FunctionInfo> functions;
  for (auto it = byStart.begin(); it != byStart.end(); ++it) {
    FunctionInfo f = it->second;
    if (f.name.empty()) f.name = fmt::format("sub_{:x}", f.begin);
    if (!f.hasUnwindInfo) {
      const SectionInfo* section = image.sectionAt(f.begin);
      uint32_t limit = section->virtualAddress + std::max(section->virtualSize, section->rawSize);
      if (auto next = std::next(it); next != byStart.end()) limit = std::min(limit, next->first);
      f.end = estimateEnd(image, f.begin, limit);
      f.lengthEstimated = true;
    }
    functions.push_back(std::move(f));
  }
  return functions;
}

}  // namespace hph::pe
