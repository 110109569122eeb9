#include "harness/InspectCommand.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "emu/pe/Arm64xRelocations.h"
#include "emu/pe/HotPatchTable.h"
#include "emu/pe/PeImage.h"
#include "harness/Diagnostics.h"

namespace hph {
namespace {

// Bytes looked at around an entry: enough for any padding rule and one instruction.
constexpr uint32_t kEntryWindow = 16;

std::string permissions(const SectionInfo& s) {
  std::string p = "---";
  if (s.characteristics & 0x40000000u) p[0] = 'r';
  if (s.characteristics & 0x80000000u) p[1] = 'w';
  if (s.executable()) p[2] = 'x';
  return p;
}

// The entry at [begin, end) as `arch` would patch it, with the bytes before it in its
// section (padding rules look there).
EntryPatchability patchabilityAt(const PeImage& image, const Arch& arch, uint32_t begin, uint32_t end) {
  const SectionInfo* section = image.sectionAt(begin);
  if (!section) return {.reason = fmt::format("0x{:x} is not inside a section", begin)};
  const uint32_t beforeStart = std::max(section->virtualAddress, begin >= kEntryWindow ? begin - kEntryWindow : 0);
  const std::vector<uint8_t> before = image.bytesAt(beforeStart, begin - beforeStart);
  const std::vector<uint8_t> entry = image.bytesAt(begin, std::min(kEntryWindow, end - begin));
  return arch.entryPatchability(before, entry, image.imageBase + begin);
}

EntryPatchability patchabilityOf(const PeImage& image, const FunctionInfo& f) {
  return patchabilityAt(image, *image.arch, f.begin, f.end);
}

nlohmann::json patchabilityJson(const Arch& arch, const EntryPatchability& p) {
  nlohmann::json hp = {{"hotpatchable", p.hotpatchable},
                       {"first_instruction", p.firstInstruction},
                       {"first_instruction_length", p.firstInstructionLength},
                       {"padding_before", p.paddingBefore},
                       {"reason", p.reason}};
  // Only where the architecture has the rule: instructions aligned to a fixed width, a
  // set of instructions that may be modified while other cores run them.
  const ArchFacts& facts = arch.facts();
  if (facts.fixedInstructionBytes) hp["aligned"] = p.aligned;
  if (facts.concurrentModificationRestricted) hp["concurrently_modifiable"] = p.concurrentlyModifiable;
  return hp;
}

// An Arm64EC function's two patch sites: its body (Arm64 code, the `native` site) and the
// x64 fast-forward sequence its export points at (the `x64-entry` site).
EntryPatchability nativeSite(const PeImage& image, const HybridFunction& f) {
  return patchabilityAt(image, arm64Arch(), f.body, f.bodyEnd);
}
EntryPatchability x64EntrySite(const PeImage& image, const HybridFunction& f) {
  return patchabilityAt(image, x64Arch(), f.fastForward, f.fastForward + kEntryWindow);
}

std::string_view arm64xKindName(Arm64xFixup::Kind kind) {
  switch (kind) {
  case Arm64xFixup::Kind::kZeroFill: return "zerofill";
  case Arm64xFixup::Kind::kValue: return "value";
  case Arm64xFixup::Kind::kDelta: return "delta";
  }
  return "?";
}

std::string_view chpeKindName(ChpeRange::Kind kind) {
  switch (kind) {
  case ChpeRange::Kind::kArm64: return "arm64";
  case ChpeRange::Kind::kArm64ec: return "arm64ec";
  case ChpeRange::Kind::kAmd64: return "amd64";
  }
  return "?";
}

std::string_view chunkName(uint32_t type) {
  return type == pe::kHotPatchFunction ? "function" : type == pe::kHotPatchAbsolute ? "absolute" : "?";
}

std::string functionAt(const PeImage& image, uint32_t rva) {
  const FunctionInfo* f = image.functionContaining(rva);
  if (!f) return "";
  return f->begin == rva ? f->name : fmt::format("{}+0x{:x}", f->name, rva - f->begin);
}

nlohmann::json toJson(const PeImage& image) {
  using nlohmann::json;
  json out;
  out["image"] = image.path;
  out["machine"] = image.arch->name();
  out["machine_code"] = image.machine;
  out["image_base"] = image.imageBase;
  out["size_of_image"] = image.sizeOfImage;
  out["entry_rva"] = image.entryRva;
  out["time_date_stamp"] = image.timeDateStamp;
  out["checksum"] = image.checkSum;
  out["dll"] = (image.characteristics & 0x2000) != 0;
  json sections = json::array();
  for (const SectionInfo& s : image.sections)
    sections.push_back({{"name", s.name},
                        {"rva", s.virtualAddress},
                        {"virtual_size", s.virtualSize},
                        {"raw_size", s.rawSize},
                        {"permissions", permissions(s)}});
  out["sections"] = sections;
  json exports = json::array();
  for (const ExportInfo& e : image.exports)
    exports.push_back({{"name", e.name}, {"ordinal", e.ordinal}, {"rva", e.rva}, {"forwarded", e.forwarded}});
  out["exports"] = exports;
  json imports = json::array();
  for (const ImportInfo& i : image.imports)
    imports.push_back({{"dll", i.dll}, {"function", i.function}, {"iat_rva", i.iatRva}});
  out["imports"] = imports;
  json functions = json::array();
  for (const FunctionInfo& f : image.functions) {
    const json hp = patchabilityJson(*image.arch, patchabilityOf(image, f));
    functions.push_back({{"name", f.name},
                         {"begin_rva", f.begin},
                         {"end_rva", f.end},
                         {"exported", f.exported},
                         {"unwind_info", f.hasUnwindInfo},
                         {"length_estimated", f.lengthEstimated},
                         {"hotpatch", hp}});
  }
  out["functions"] = functions;
  json loadConfig = nullptr;
  if (image.loadConfig)
    loadConfig = {{"rva", image.loadConfig->rva},
                  {"size", image.loadConfig->size},
                  {"chpe_metadata_pointer", image.loadConfig->chpeMetadataPointer},
                  {"hotpatch_table_offset", image.loadConfig->hotPatchTableOffset}};
  out["load_config"] = loadConfig;
  // ARM64X: what makes the Arm64EC view (--view arm64ec).
  json arm64x = nullptr;
  if (image.isArm64x) {
    arm64x = json::array();
    for (const Arm64xFixup& f : image.arm64x) {
      json fixup = {{"rva", f.rva}, {"kind", arm64xKindName(f.kind)}, {"size", f.size}};
      if (f.kind == Arm64xFixup::Kind::kValue) fixup["value"] = f.value;
      if (f.kind == Arm64xFixup::Kind::kDelta) fixup["delta"] = f.delta;
      arm64x.push_back(fixup);
    }
  }
  out["arm64x_fixups"] = arm64x;
  json chpe = nullptr;
  if (image.chpe) {
    json ranges = json::array();
    for (const ChpeRange& r : image.chpe->codeMap)
      ranges.push_back({{"rva", r.begin}, {"length", r.length}, {"kind", chpeKindName(r.kind)}});
    const ChpeInfo& c = *image.chpe;
    json entryPoints = json::array();
    for (const ChpeEntryPointRange& e : c.entryPoints)
      entryPoints.push_back({{"begin_rva", e.begin}, {"end_rva", e.end}, {"entry_rva", e.entry}});
    json redirections = json::array();
    for (const ChpeRedirection& r : c.redirections)
      redirections.push_back({{"source_rva", r.source}, {"destination_rva", r.destination}});
    const ChpeDispatchSlots& d = c.dispatch;
    const json dispatch = {{"call_no_redirect", d.callNoRedirect},
                           {"ret", d.ret},
                           {"call", d.call},
                           {"icall", d.icall},
                           {"icall_cfg", d.icallCfg},
                           {"fptr", d.fptr},
                           {"get_x64_information", d.getX64Information},
                           {"set_x64_information", d.setX64Information}};
    json hybridFunctions = json::array();
    for (const HybridFunction& f : c.functions)
      hybridFunctions.push_back({{"name", f.name},
                                 {"isa", "arm64ec"},
                                 {"body_rva", f.body},
                                 {"body_end_rva", f.bodyEnd},
                                 {"body_end_estimated", f.bodyEndEstimated},
                                 {"fast_forward_rva", f.fastForward},
                                 {"entry_thunk_rva", f.entryThunk},
                                 {"hybrid_patchable", f.hybridPatchable},
                                 {"hotpatch",
                                  {{"native", patchabilityJson(arm64Arch(), nativeSite(image, f))},
                                   {"x64_entry", patchabilityJson(x64Arch(), x64EntrySite(image, f))}}}});
    chpe = {{"version", c.version},
            {"code_map", ranges},
            {"code_ranges_to_entry_points", entryPoints},
            {"redirections", redirections},
            {"dispatch_slots", dispatch},
            {"extra_rfe_table", {{"rva", c.extraRfeTable}, {"size", c.extraRfeTableSize}}},
            {"functions", hybridFunctions}};
  }
  out["chpe"] = chpe;
  json hotPatch = nullptr;
  if (image.hotPatch) {
    json bases = json::array();
    for (const HotPatchBase& b : image.hotPatch->bases) {
      json entries = json::array();
      for (const HotPatchEntry& e : b.entries)
        entries.push_back({{"type", chunkName(e.type)},
                           {"type_code", e.type},
                           {"source_rva", e.sourceRva},
                           {"source", functionAt(image, e.sourceRva)},
                           {"target_rva", e.targetRva}});
      bases.push_back({{"applies_over", b.sequenceNumber},
                       {"flags", b.flags},
                       {"original_time_date_stamp", b.originalTimeDateStamp},
                       {"original_checksum", b.originalCheckSum},
                       {"patch_table", entries}});
    }
    hotPatch = {
        {"version", image.hotPatch->version}, {"sequence_number", image.hotPatch->sequenceNumber}, {"bases", bases}};
  }
  out["hotpatch"] = hotPatch;
  return out;
}

void printHybrid(const PeImage& image) {
  const ChpeInfo& c = *image.chpe;
  fmt::print("CHPE metadata: version {}, {} code ranges, {} x64 entry ranges, {} redirections\n", c.version,
             c.codeMap.size(), c.entryPoints.size(), c.redirections.size());
  for (const ChpeRange& r : c.codeMap)
    fmt::print("  [0x{:06x}, 0x{:06x}) {}\n", r.begin, r.begin + r.length, chpeKindName(r.kind));
  auto site = [](const EntryPatchability& p) { return p.hotpatchable ? p.firstInstruction : "no: " + p.reason; };
  fmt::print("Arm64EC functions ({}): body, x64 fast-forward sequence, entry thunk; each site hotpatchable as "
             "compiled?\n",
             c.functions.size());
  for (const HybridFunction& f : c.functions)
    fmt::print("  {:<16} [0x{:06x}, 0x{:06x}){} ff 0x{:06x} thunk 0x{:06x}{}\n      native: {}\n      x64-entry: {}\n",
               f.name, f.body, f.bodyEnd, f.bodyEndEstimated ? "~" : " ", f.fastForward, f.entryThunk,
               f.hybridPatchable ? " hybrid-patchable" : "", site(nativeSite(image, f)), site(x64EntrySite(image, f)));
}

void printText(const PeImage& image) {
  fmt::print("{}: {} PE32+ {}, image base 0x{:x}, size 0x{:x}\n", image.path, image.arch->name(),
             (image.characteristics & 0x2000) ? "DLL" : "EXE", image.imageBase, image.sizeOfImage);
  fmt::print("  timestamp 0x{:08x}, checksum 0x{:08x}, entry {}\n", image.timeDateStamp, image.checkSum,
             image.entryRva ? fmt::format("rva 0x{:x}", image.entryRva) : "none");
  fmt::print("sections ({}):\n", image.sections.size());
  for (const SectionInfo& s : image.sections)
    fmt::print("  {:<8} rva 0x{:<6x} vsize 0x{:<6x} raw 0x{:<6x} {}\n", s.name, s.virtualAddress, s.virtualSize,
               s.rawSize, permissions(s));
  fmt::print("exports ({}), imports ({})\n", image.exports.size(), image.imports.size());
  for (const ImportInfo& i : image.imports) fmt::print("  import {}!{}\n", i.dll, i.function);
  size_t patchable = 0;
  fmt::print("functions ({}):\n", image.functions.size());
  for (const FunctionInfo& f : image.functions) {
    const EntryPatchability p = patchabilityOf(image, f);
    patchable += p.hotpatchable;
    fmt::print("  [0x{:06x}, 0x{:06x}){} {:<20} {:<5} {:<13} {}\n", f.begin, f.end, f.lengthEstimated ? "~" : " ",
               f.name, f.hasUnwindInfo ? "pdata" : "-", p.hotpatchable ? "hotpatchable" : "no",
               p.hotpatchable ? p.firstInstruction : p.reason);
  }
  fmt::print("  {} of {} hotpatchable as compiled ('~': end estimated, no .pdata)\n", patchable,
             image.functions.size());
  if (image.loadConfig)
    fmt::print("load config: size 0x{:x}, CHPE metadata pointer 0x{:x}, hotpatch table offset 0x{:x}\n",
               image.loadConfig->size, image.loadConfig->chpeMetadataPointer, image.loadConfig->hotPatchTableOffset);
  else
    fmt::print("load config: none\n");
  if (image.isArm64x)
    fmt::print("ARM64X: this is the native Arm64 view; {} dynamic value relocations make the Arm64EC view "
               "(--view arm64ec)\n",
               image.arm64x.size());
  if (image.chpe) printHybrid(image);
  if (!image.hotPatch) return;
  fmt::print("hotpatch: version {}, sequence number {}\n", image.hotPatch->version, image.hotPatch->sequenceNumber);
  for (const HotPatchBase& b : image.hotPatch->bases) {
    fmt::print("  base timestamp 0x{:08x}, checksum 0x{:08x}, applies over {}\n", b.originalTimeDateStamp,
               b.originalCheckSum,
               b.sequenceNumber ? fmt::format("patch {}", b.sequenceNumber) : "the unpatched image");
    for (const HotPatchEntry& e : b.entries)
      fmt::print("    {:<8} source rva 0x{:06x} {:<16} -> base rva 0x{:06x}\n", chunkName(e.type), e.sourceRva,
                 functionAt(image, e.sourceRva), e.targetRva);
  }
}

}  // namespace

int runInspect(const InspectOptions& options) {
  auto image = readPeImageView(options.image, options.view, "--view");
  if (!image) return reportError(image.error());
  if (options.json)
    fmt::print("{}\n", toJson(*image).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  else
    printText(*image);
  return kExitHolds;
}

}  // namespace hph
