#include "emu/pe/ChpeMetadata.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_set>

#include "emu/pe/ByteReader.h"
#include "emu/pe/UnwindTable.h"

namespace hph::pe {
namespace {

constexpr uint32_t kHeaderBytes = 0x50;  // the fields versions 1 and 2 share
constexpr uint32_t kMaxEntries = 1u << 16;
constexpr uint32_t kSlotBytes = 8;
// The fast-forward sequence up to its jump's rel32, which follows.
constexpr std::array<uint8_t, 10> kFastForwardHead = {0x48, 0x8b, 0xc4, 0x48, 0x89, 0x58, 0x20, 0x55, 0x5d, 0xe9};

// Field offsets in IMAGE_ARM64EC_METADATA.
namespace field {
constexpr uint32_t kVersion = 0x00, kCodeMap = 0x04, kCodeMapCount = 0x08, kEntryPoints = 0x0C, kRedirections = 0x10,
                   kCallNoRedirect = 0x14, kRet = 0x18, kCall = 0x1C, kIcall = 0x20, kIcallCfg = 0x24,
                   kEntryPointsCount = 0x30, kRedirectionsCount = 0x34, kGetX64Information = 0x38,
                   kSetX64Information = 0x3C, kExtraRfeTable = 0x40, kExtraRfeTableSize = 0x44, kFptr = 0x48;
}

class MetadataReader {
 public:
  MetadataReader(const PeImage& image, uint32_t rva) : image_(image), rva_(rva) {}

  Error error(std::string_view name, std::string problem) const {
    return badInput(fmt::format("{}: {}: {}", image_.path, name, problem));
  }
  uint32_t header(uint32_t offset) const { return *u32(rva_ + offset); }
  std::optional<uint32_t> u32(uint32_t rva) const {
    auto offset = image_.fileOffset(rva, 4);
    return offset ? ByteReader(image_.file).u32(*offset) : std::nullopt;
  }
  bool inImage(uint64_t rva, uint64_t length) const { return rva + length <= image_.sizeOfImage; }

  // An array of `count` entries of `entryBytes` at `rva`, all in one section's raw data.
  Result<void> array(std::string_view name, uint32_t rva, uint32_t count, uint32_t entryBytes) const {
    if (count > kMaxEntries || (count && !image_.fileOffset(rva, count * entryBytes)))
      return error(name, fmt::format("{} entries at 0x{:x} do not fit the image", count, rva));
    return {};
  }

 private:
  const PeImage& image_;
  uint32_t rva_;
};

bool inKind(const ChpeInfo& chpe, uint32_t rva, ChpeRange::Kind kind) {
  const ChpeRange* r = chpe.rangeAt(rva);
  return r && r->kind == kind;
}

Result<void> readCodeMap(const MetadataReader& in, ChpeInfo& chpe) {
  const uint32_t at = in.header(field::kCodeMap), count = in.header(field::kCodeMapCount);
  if (auto ok = in.array("CHPE metadata.CodeMap", at, count, 8); !ok) return ok;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t start = *in.u32(at + 8 * i);
    ChpeRange range;
    range.kind = static_cast<ChpeRange::Kind>(start & 3);
    range.begin = start & ~3u;
    range.length = *in.u32(at + 8 * i + 4);
    const std::string name = fmt::format("CHPE metadata.CodeMap[{}]", i);
    if ((start & 3) == 3) return in.error(name, fmt::format("range type 3 at 0x{:x} is no kind of code", range.begin));
    if (range.length == 0 || !in.inImage(range.begin, range.length))
      return in.error(name,
                      fmt::format("range 0x{:x}+0x{:x} is empty or lies outside the image", range.begin, range.length));
    if (!chpe.codeMap.empty() && range.begin < chpe.codeMap.back().begin + chpe.codeMap.back().length)
      return in.error(name,
                      fmt::format("range 0x{:x}+0x{:x} overlaps or precedes the one before (0x{:x}+0x{:x}): "
                                  "the code map must be sorted and disjoint",
                                  range.begin, range.length, chpe.codeMap.back().begin, chpe.codeMap.back().length));
    chpe.codeMap.push_back(range);
  }
  return {};
}

Result<void> readEntryPoints(const MetadataReader& in, ChpeInfo& chpe) {
  const uint32_t at = in.header(field::kEntryPoints), count = in.header(field::kEntryPointsCount);
  if (auto ok = in.array("CHPE metadata.CodeRangesToEntryPoints", at, count, 12); !ok) return ok;
  for (uint32_t i = 0; i < count; ++i) {
    ChpeEntryPointRange e{*in.u32(at + 12 * i), *in.u32(at + 12 * i + 4), *in.u32(at + 12 * i + 8)};
    const std::string name = fmt::format("CHPE metadata.CodeRangesToEntryPoints[{}]", i);
    if (e.end <= e.begin || !in.inImage(e.begin, e.end - e.begin))
      return in.error(name, fmt::format("range [0x{:x}, 0x{:x}) is empty or lies outside the image", e.begin, e.end));
    const ChpeRange* range = chpe.rangeAt(e.begin);
    if (!range || range->kind != ChpeRange::Kind::kAmd64 || e.end - range->begin > range->length || e.entry < e.begin ||
        e.entry >= e.end)
      return in.error(name, fmt::format("range [0x{:x}, 0x{:x}) is not x64 code of one code-map range, or its entry "
                                        "0x{:x} lies outside it",
                                        e.begin, e.end, e.entry));
    chpe.entryPoints.push_back(e);
  }
  return {};
}

Result<void> readRedirections(const MetadataReader& in, ChpeInfo& chpe) {
  const uint32_t at = in.header(field::kRedirections), count = in.header(field::kRedirectionsCount);
  if (auto ok = in.array("CHPE metadata.RedirectionMetadata", at, count, 8); !ok) return ok;
  for (uint32_t i = 0; i < count; ++i) {
    ChpeRedirection r{*in.u32(at + 8 * i), *in.u32(at + 8 * i + 4)};
    if (!inKind(chpe, r.source, ChpeRange::Kind::kAmd64) || !inKind(chpe, r.destination, ChpeRange::Kind::kArm64ec))
      return in.error(
          fmt::format("CHPE metadata.RedirectionMetadata[{}]", i),
          fmt::format("0x{:x} -> 0x{:x} does not lead from x64 code to Arm64EC code", r.source, r.destination));
    chpe.redirections.push_back(r);
  }
  return {};
}

Result<void> readDispatchSlots(const MetadataReader& in, ChpeInfo& chpe) {
  struct Slot {
    const char* name;
    uint32_t offset;
    uint32_t* into;
  };
  ChpeDispatchSlots& d = chpe.dispatch;
  for (const Slot& s :
       {Slot{"__os_arm64x_dispatch_call_no_redirect", field::kCallNoRedirect, &d.callNoRedirect},
        Slot{"__os_arm64x_dispatch_ret", field::kRet, &d.ret}, Slot{"__os_arm64x_dispatch_call", field::kCall, &d.call},
        Slot{"__os_arm64x_dispatch_icall", field::kIcall, &d.icall},
        Slot{"__os_arm64x_dispatch_icall_cfg", field::kIcallCfg, &d.icallCfg},
        Slot{"__os_arm64x_dispatch_fptr", field::kFptr, &d.fptr},
        Slot{"GetX64InformationFunctionPointer", field::kGetX64Information, &d.getX64Information},
        Slot{"SetX64InformationFunctionPointer", field::kSetX64Information, &d.setX64Information}}) {
    const uint32_t rva = in.header(s.offset);
    if (rva && !in.inImage(rva, kSlotBytes))
      return in.error(fmt::format("CHPE metadata.{}", s.name), fmt::format("slot 0x{:x} lies outside the image", rva));
    *s.into = rva;
  }
  return {};
}

// The Arm64 RUNTIME_FUNCTIONs of the Arm64EC code: where its functions begin and end.
Result<std::vector<UnwindEntry>> readExtraRfeTable(const MetadataReader& in, const PeImage& image, ChpeInfo& chpe) {
  chpe.extraRfeTable = in.header(field::kExtraRfeTable);
  chpe.extraRfeTableSize = in.header(field::kExtraRfeTableSize);
  if (!chpe.extraRfeTableSize) return std::vector<UnwindEntry>{};
  if (chpe.extraRfeTableSize % 8 || !in.inImage(chpe.extraRfeTable, chpe.extraRfeTableSize))
    return in.error("CHPE metadata.ExtraRFETable",
                    fmt::format("0x{:x} bytes at 0x{:x} are not whole 8-byte entries inside the image",
                                chpe.extraRfeTableSize, chpe.extraRfeTable));
  auto entries = readRuntimeFunctions(image, chpe.extraRfeTable, chpe.extraRfeTableSize,
                                      RuntimeFunctionFormat::kBeginPackedUnwind, "CHPE metadata.ExtraRFETable");
  if (!entries) return entries.error();
  for (size_t i = 0; i < entries->size(); ++i)
    if (inKind(chpe, (*entries)[i].begin, ChpeRange::Kind::kAmd64) || !chpe.rangeAt((*entries)[i].begin))
      return in.error(fmt::format("CHPE metadata.ExtraRFETable entry[{}]", i),
                      fmt::format("function 0x{:x} is not Arm64 code in the code map", (*entries)[i].begin));
  return entries;
}

// The section bytes of [begin, end) that come from the file (what lies past a section's
// raw data is zeros: no code, nothing to scan).
std::vector<uint8_t> rawCode(const PeImage& image, uint32_t begin, uint32_t end) {
  const SectionInfo* section = image.sectionAt(begin);
  if (!section) return {};
  const uint32_t rawEnd = section->virtualAddress + std::min(section->rawSize, section->virtualSize);
  return begin < rawEnd ? image.bytesAt(begin, std::min(end, rawEnd) - begin) : std::vector<uint8_t>{};
}

}  // namespace

namespace {

// Calls visit(begin, code) for every piece of Arm64 or Arm64EC code the file holds (a
// code-map range, cut where sections end).
template <class Visit> void visitArm64Code(const PeImage& image, const ChpeInfo& chpe, Visit visit) {
  for (const ChpeRange& range : chpe.codeMap) {
    if (range.kind == ChpeRange::Kind::kAmd64) continue;
    for (const auto& [begin, end] : image.sectionPartsOf(range.begin, range.length))
      visit(begin, rawCode(image, begin, end));
  }
}

uint32_t wordAt(const std::vector<uint8_t>& code, size_t index) {
  uint32_t w;
  std::memcpy(&w, &code[4 * index], 4);
  return w;
}

}  // namespace

std::vector<std::pair<uint32_t, uint32_t>> addressesComputedByArm64Code(const PeImage& image, const ChpeInfo& chpe) {
  constexpr size_t kWindow = 4;
  std::vector<std::pair<uint32_t, uint32_t>> out;
  visitArm64Code(image, chpe, [&](uint32_t begin, const std::vector<uint8_t>& code) {
    const size_t words = code.size() / 4;
    for (size_t i = 0; i < words; ++i) {
      const uint32_t adrp = wordAt(code, i);
      if ((adrp & 0x9F000000u) != 0x90000000u) continue;
      const uint64_t immediate = ((adrp >> 5) & 0x7FFFF) << 2 | ((adrp >> 29) & 3);
      const int64_t pages = static_cast<int64_t>(immediate << 43) >> 43;  // 21 bits, signed
      const int64_t page = static_cast<int64_t>((begin + 4 * i) & ~uint64_t{0xFFF}) + pages * 0x1000;
      const uint32_t reg = adrp & 31;
      for (size_t k = i + 1; k < std::min(words, i + 1 + kWindow); ++k) {
        const uint32_t add = wordAt(code, k);
        if ((add & 0xFFC00000u) != 0x91000000u || (add & 31) != reg || ((add >> 5) & 31) != reg) continue;
        const int64_t address = page + ((add >> 10) & 0xFFF);
        if (address >= 0 && address <= UINT32_MAX)
          out.emplace_back(static_cast<uint32_t>(begin + 4 * i), static_cast<uint32_t>(address));
        break;
      }
    }
  });
  return out;
}

std::vector<std::pair<uint32_t, uint32_t>> directCallsByArm64Code(const PeImage& image, const ChpeInfo& chpe) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  visitArm64Code(image, chpe, [&](uint32_t begin, const std::vector<uint8_t>& code) {
    for (size_t i = 0; i < code.size() / 4; ++i) {
      const uint32_t bl = wordAt(code, i);
      if ((bl & 0xFC000000u) != 0x94000000u) continue;
      const int64_t offset = static_cast<int64_t>(static_cast<uint64_t>(bl & 0x3FFFFFFu) << 38) >> 36;  // imm26 * 4
      const int64_t target = static_cast<int64_t>(begin + 4 * i) + offset;
      if (target >= 0 && target <= UINT32_MAX)
        out.emplace_back(static_cast<uint32_t>(begin + 4 * i), static_cast<uint32_t>(target));
    }
  });
  return out;
}

namespace {

Result<void> describeFunctions(const MetadataReader& in, const PeImage& image, ChpeInfo& chpe,
                               const std::vector<UnwindEntry>& rfe) {
  std::unordered_set<uint32_t> computed;
  for (const auto& [place, address] : addressesComputedByArm64Code(image, chpe)) computed.insert(address);
  auto executable = [&](uint32_t rva) {
    const SectionInfo* section = image.sectionAt(rva);
    return section && section->executable();
  };
  for (const ExportInfo& e : image.exports) {
    if (e.forwarded || !inKind(chpe, e.rva, ChpeRange::Kind::kAmd64)) continue;
    const auto target = fastForwardTarget(image.bytesAt(e.rva, kFastForwardBytes), e.rva);
    if (!target) continue;  // x64 code of its own
    const std::string name = e.name.empty() ? fmt::format("#{}", e.ordinal) : e.name;
    if (!inKind(chpe, *target, ChpeRange::Kind::kArm64ec))
      return in.error(
          fmt::format("CHPE export '{}'", name),
          fmt::format("its fast-forward sequence at 0x{:x} jumps to 0x{:x}, not Arm64EC code", e.rva, *target));
    if (!executable(*target))
      return in.error(fmt::format("CHPE export '{}'", name),
                      fmt::format("its body 0x{:x} is not inside an executable section", *target));
    HybridFunction f;
    f.name = name;
    f.body = *target;
    f.fastForward = e.rva;
    // x64 callers enter through the thunk the word before the body names (its offset
    // from the body, low bit set): one every function with an x64 entry has.
    const auto word = *target >= 4 ? in.u32(*target - 4) : std::nullopt;
    const uint32_t thunk = word ? *target + (*word & ~1u) : 0;
    if (!word || !(*word & 1) || !inKind(chpe, thunk, ChpeRange::Kind::kArm64ec) || !executable(thunk))
      return in.error(fmt::format("CHPE export '{}'", name),
                      fmt::format("the entry-thunk word at 0x{:x} (body-4) is 0x{:x}, which names no Arm64EC entry "
                                  "thunk",
                                  *target - 4, word.value_or(0)));
    f.entryThunk = thunk;
    f.hybridPatchable = computed.count(e.rva) > 0;
    chpe.functions.push_back(std::move(f));
  }
  std::sort(chpe.functions.begin(), chpe.functions.end(),
            [](const HybridFunction& a, const HybridFunction& b) { return a.body < b.body; });
  // Where a body ends: its Arm64 RUNTIME_FUNCTION, else the next place known to hold
  // other code (a function, an entry thunk, its word at -4), less the zero words lld pads with.
  std::vector<uint32_t> starts;
  for (const UnwindEntry& r : rfe) starts.push_back(r.begin);
  for (const HybridFunction& f : chpe.functions) starts.insert(starts.end(), {f.body - 4, f.entryThunk});
  // Code that Arm64 code calls or takes the address of begins a function too (a leaf
  // helper without .pdata that the linker put right after a body, say).
  for (const auto& [place, target] : directCallsByArm64Code(image, chpe))
    if (inKind(chpe, target, ChpeRange::Kind::kArm64ec)) starts.push_back(target);
  for (const uint32_t address : computed)
    if (inKind(chpe, address, ChpeRange::Kind::kArm64ec)) starts.push_back(address);
  std::sort(starts.begin(), starts.end());
  // Bodies in order, each read once however many exports name it: the spans read are
  // disjoint, so the work is bounded by the code's size.
  for (size_t i = 0; i < chpe.functions.size(); ++i) {
    HybridFunction& f = chpe.functions[i];
    if (i > 0 && chpe.functions[i - 1].body == f.body) {
      f.bodyEnd = chpe.functions[i - 1].bodyEnd;
      f.bodyEndEstimated = chpe.functions[i - 1].bodyEndEstimated;
      continue;
    }
    auto own = std::find_if(rfe.begin(), rfe.end(), [&](const UnwindEntry& r) { return r.begin == f.body; });
    if (own != rfe.end()) {
      f.bodyEnd = own->end;
      continue;
    }
    const ChpeRange* range = chpe.rangeAt(f.body);
    uint32_t end = range->begin + range->length;
    if (auto next = std::upper_bound(starts.begin(), starts.end(), f.body); next != starts.end())
      end = std::min(end, *next);
    const std::vector<uint8_t> code = rawCode(image, f.body, end);
    size_t length = code.size() & ~size_t{3};
    while (length > 4 && std::all_of(code.begin() + length - 4, code.begin() + length, [](uint8_t b) { return !b; }))
      length -= 4;
    f.bodyEnd = f.body + static_cast<uint32_t>(std::max<size_t>(length, 4));
    f.bodyEndEstimated = true;
  }
  return {};
}

}  // namespace

std::vector<std::pair<uint32_t, uint32_t>> findEntryThunkWords(const PeImage& image, const ChpeInfo& chpe,
                                                               const std::vector<UnwindEntry>& arm64Functions) {
  std::vector<uint32_t> candidates;
  for (const HybridFunction& f : chpe.functions) candidates.push_back(f.body);
  for (const UnwindEntry& r : arm64Functions) candidates.push_back(r.begin);
  for (const auto& [place, target] : directCallsByArm64Code(image, chpe)) candidates.push_back(target);
  for (const auto& [place, address] : addressesComputedByArm64Code(image, chpe)) candidates.push_back(address);
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  const auto executableEc = [&](uint32_t rva) {
    const SectionInfo* section = image.sectionAt(rva);
    return section && section->executable() && inKind(chpe, rva, ChpeRange::Kind::kArm64ec);
  };
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (const uint32_t body : candidates) {
    const SectionInfo* wordSection = body >= 4 ? image.sectionAt(body - 4) : nullptr;
    if (body % 4 || !executableEc(body) || !wordSection || !wordSection->executable()) continue;
    if (std::any_of(arm64Functions.begin(), arm64Functions.end(),
                    [&](const UnwindEntry& r) { return r.begin <= body - 4 && body - 4 < r.end; }))
      continue;
    const std::vector<uint8_t> bytes = image.bytesAt(body - 4, 4);
    if (bytes.size() != 4) continue;
    uint32_t word;
    std::memcpy(&word, bytes.data(), 4);
    const uint32_t thunk = body + (word & ~1u);  // an offset from the body (wraps: it may be negative)
    if ((word & 1) && thunk != body && executableEc(thunk)) out.emplace_back(body, thunk);
  }
  return out;
}

std::optional<uint32_t> fastForwardTarget(std::span<const uint8_t> bytes, uint32_t rva) {
  if (bytes.size() < kFastForwardBytes || !std::equal(kFastForwardHead.begin(), kFastForwardHead.end(), bytes.begin()))
    return std::nullopt;
  int32_t rel;
  std::memcpy(&rel, bytes.data() + kFastForwardHead.size(), 4);
  return static_cast<uint32_t>(int64_t{rva} + kFastForwardBytes + rel);
}

Result<void> requireOneKindOfCode(const PeImage& image) {
  // An ARM64X image's native view holds its Arm64EC and x64 code too (its .pdata names
  // Arm64EC functions): one engine would run them as native code.
  if (image.isArm64x)
    return badInput(fmt::format("{}: DynamicValueRelocTable.ARM64X: an ARM64X image (Arm64EC and x64 code beside its "
                                "native code); hph runs either view in `hph call` (--view), but threads over both "
                                "engines are not built yet",
                                image.path));
  if (!image.chpe) return {};
  const ChpeRange::Kind own = image.arch->kind() == ArchKind::kX64 ? ChpeRange::Kind::kAmd64 : ChpeRange::Kind::kArm64;
  for (const ChpeRange& r : image.chpe->codeMap)
    if (r.kind != own)
      return badInput(fmt::format(
          "{}: CHPE metadata.CodeMap: a hybrid image ({} code at [0x{:x}, 0x{:x}) beside its "
          "{} code); hph runs one in `hph call` (two engines), but threads over both engines are not built yet",
          image.path, r.kind == ChpeRange::Kind::kAmd64 ? "x64" : "Arm64", r.begin, r.begin + r.length,
          image.arch->name()));
  return {};
}

Result<ChpeInfo> readChpeMetadata(const PeImage& image, uint64_t pointer) {
  if (pointer < image.imageBase || pointer - image.imageBase >= image.sizeOfImage)
    return badInput(
        fmt::format("{}: load config.CHPEMetadataPointer: 0x{:x} lies outside the image", image.path, pointer));
  const auto rva = static_cast<uint32_t>(pointer - image.imageBase);
  const MetadataReader in(image, rva);
  if (!image.fileOffset(rva, kHeaderBytes))
    return in.error("CHPE metadata", fmt::format("its 0x{:x}-byte header at 0x{:x} is not inside a section's raw data",
                                                 kHeaderBytes, rva));
  ChpeInfo chpe;
  chpe.version = in.header(field::kVersion);
  if (chpe.version != 1 && chpe.version != 2)
    return in.error("CHPE metadata.Version", fmt::format("{} is not a version hph reads (1, 2)", chpe.version));
  if (auto ok = readCodeMap(in, chpe); !ok) return ok.error();
  if (auto ok = readEntryPoints(in, chpe); !ok) return ok.error();
  if (auto ok = readRedirections(in, chpe); !ok) return ok.error();
  if (auto ok = readDispatchSlots(in, chpe); !ok) return ok.error();
  auto rfe = readExtraRfeTable(in, image, chpe);
  if (!rfe) return rfe.error();
  if (auto ok = describeFunctions(in, image, chpe, *rfe); !ok) return ok.error();
  chpe.entryThunkWords = findEntryThunkWords(image, chpe, *rfe);
  return chpe;
}

}  // namespace hph::pe
