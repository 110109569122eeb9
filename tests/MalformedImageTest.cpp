// Malformed images are refused with exit code 2 and one line naming the file and the
// field; never a crash, never a hang, whatever the bytes. Data-driven: each case is a
// mutation of a good corpus image and the field its message must name.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <functional>

#include "emu/pe/PeFormat.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

using Bytes = std::vector<uint8_t>;

// Offsets of the header fields of a (good) image, for the mutations below.
struct Layout {
  explicit Layout(const Bytes& b) {
    std::memcpy(&lfanew, &b[pe::kLfanewOffset], 4);
    fileHeader = lfanew + 4;
    optional = fileHeader + pe::kFileHeaderSize;
    uint16_t optionalSize;
    std::memcpy(&optionalSize, &b[fileHeader + 16], 2);
    sections = optional + optionalSize;
  }
  uint32_t directory(uint32_t index) const { return optional + pe::opt::kDataDirectories + 8 * index; }
  uint32_t section(uint32_t index) const { return sections + pe::kSectionHeaderSize * index; }
  uint32_t lfanew, fileHeader, optional, sections;
};

template <class T> void put(Bytes& b, size_t at, T value) { std::memcpy(&b[at], &value, sizeof(T)); }
template <class T> T get(const Bytes& b, size_t at) {
  T v;
  std::memcpy(&v, &b[at], sizeof(T));
  return v;
}

// File offset of an RVA in a good image (sections only).
uint32_t fileOffsetOf(const Bytes& b, uint32_t rva) {
  const Layout l(b);
  const uint16_t count = get<uint16_t>(b, l.fileHeader + 2);
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t va = get<uint32_t>(b, l.section(i) + 12), raw = get<uint32_t>(b, l.section(i) + 20);
    const uint32_t size = get<uint32_t>(b, l.section(i) + 16);
    if (rva >= va && rva < va + size) return raw + (rva - va);
  }
  return 0;
}

// File offsets of a (good) hotpatch image's IMAGE_HOT_PATCH_INFO, its first
// IMAGE_HOT_PATCH_BASE and that base's patch table.
uint32_t hotPatchInfo(const Bytes& b) {
  const uint32_t loadConfig = fileOffsetOf(b, get<uint32_t>(b, Layout(b).directory(pe::kLoadConfigDirectory)));
  return fileOffsetOf(b, get<uint32_t>(b, loadConfig + pe::loadcfg::kHotPatchTableOffset));
}
uint32_t hotPatchBase(const Bytes& b) {
  return fileOffsetOf(b, get<uint32_t>(b, fileOffsetOf(b, get<uint32_t>(b, hotPatchInfo(b) + 12))));
}
uint32_t hotPatchTable(const Bytes& b) { return fileOffsetOf(b, get<uint32_t>(b, hotPatchBase(b) + 24)); }

// File offset of a (good) hybrid image's IMAGE_ARM64EC_METADATA, and of an RVA one of
// its fields holds.
uint32_t chpeMetadata(const Bytes& b) {
  const uint32_t loadConfig = fileOffsetOf(b, get<uint32_t>(b, Layout(b).directory(pe::kLoadConfigDirectory)));
  const uint64_t imageBase = get<uint64_t>(b, Layout(b).optional + pe::opt::kImageBase);
  return fileOffsetOf(
      b, static_cast<uint32_t>(get<uint64_t>(b, loadConfig + pe::loadcfg::kChpeMetadataPointer) - imageBase));
}
uint32_t chpeTable(const Bytes& b, uint32_t field) {
  return fileOffsetOf(b, get<uint32_t>(b, chpeMetadata(b) + field));
}
// The body of the hybrid image's export `add`: where its fast-forward sequence jumps.
uint32_t hybridAddBody(const Bytes& b) {
  const uint32_t redirections = chpeTable(b, 0x10);
  return get<uint32_t>(b, redirections + 8 * 1 + 4);  // sorted by source: mul, add, ...
}

struct MalformedCase {
  const char* name;
  const char* base;  // corpus image the mutation starts from
  std::function<void(Bytes&)> mutate;
  const char* field;  // what the one-line message must name
};

void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.name << " (" << c.base << ")"; }

const std::vector<MalformedCase>& malformedCases() {
  static const std::vector<MalformedCase> cases = {
      {"empty", "basics.x64.dll", [](Bytes& b) { b.clear(); }, "file: is empty"},
      {"truncated_dos", "basics.x64.dll", [](Bytes& b) { b.resize(30); }, "DOS header: truncated"},
      {"truncated_300", "basics.x64.dll", [](Bytes& b) { b.resize(300); }, "SizeOfOptionalHeader"},
      {"truncated_in_section_table", "basics.arm64.dll", [](Bytes& b) { b.resize(Layout(b).section(2)); },
       "SizeOfHeaders"},
      {"truncated_in_section_data", "basics.x64.dll", [](Bytes& b) { b.resize(b.size() / 2); }, "PointerToRawData"},
      {"bad_dos_magic", "basics.x64.dll", [](Bytes& b) { b[0] = 'Z'; }, "e_magic"},
      {"lfanew_past_end", "basics.x64.dll", [](Bytes& b) { put<uint32_t>(b, 0x3C, 0xFFFFFF00); }, "e_lfanew"},
      {"bad_pe_signature", "basics.x64.dll", [](Bytes& b) { b[Layout(b).lfanew + 1] = 'X'; }, "PE signature"},
      {"unknown_machine", "basics.x64.dll", [](Bytes& b) { put<uint16_t>(b, Layout(b).fileHeader, 0x14C); },
       "FileHeader.Machine"},
      {"ffff_sections", "basics.x64.dll", [](Bytes& b) { put<uint16_t>(b, Layout(b).fileHeader + 2, 0xFFFF); },
       "NumberOfSections"},
      {"zero_sections", "basics.arm64.dll", [](Bytes& b) { put<uint16_t>(b, Layout(b).fileHeader + 2, 0); },
       "NumberOfSections"},
      {"huge_optional_header", "basics.x64.dll", [](Bytes& b) { put<uint16_t>(b, Layout(b).fileHeader + 16, 0xFFFF); },
       "SizeOfOptionalHeader"},
      {"pe32_magic", "basics.x64.dll", [](Bytes& b) { put<uint16_t>(b, Layout(b).optional, 0x10B); },
       "OptionalHeader.Magic"},
      {"section_alignment", "basics.x64.dll",
       [](Bytes& b) { put<uint32_t>(b, Layout(b).optional + pe::opt::kSectionAlignment, 3); }, "SectionAlignment"},
      {"size_of_image_zero", "basics.arm64.dll",
       [](Bytes& b) { put<uint32_t>(b, Layout(b).optional + pe::opt::kSizeOfImage, 0); }, "SizeOfImage"},
      {"absurd_raw_size", "basics.x64.dll", [](Bytes& b) { put<uint32_t>(b, Layout(b).section(0) + 16, 0xFFFFFFF0); },
       "absurd size"},
      {"raw_data_past_file", "basics.arm64.dll",
       [](Bytes& b) { put<uint32_t>(b, Layout(b).section(1) + 20, 0x100000); }, "PointerToRawData"},
      {"overlapping_sections", "basics.x64.dll",
       [](Bytes& b) {
         const Layout l(b);
         put<uint32_t>(b, l.section(1) + 12, get<uint32_t>(b, l.section(0) + 12));
       },
       "overlaps section '.text'"},
      {"section_outside_image", "basics.x64.dll",
       [](Bytes& b) { put<uint32_t>(b, Layout(b).section(4) + 12, 0x40000000); }, "VirtualAddress"},
      {"export_directory_outside", "basics.x64.dll",
       [](Bytes& b) { put<uint32_t>(b, Layout(b).directory(pe::kExportDirectory), 0x7FFFFFF0); },
       "data directory[0] (export)"},
      {"import_directory_outside", "imports.x64.dll",
       [](Bytes& b) { put<uint32_t>(b, Layout(b).directory(pe::kImportDirectory), 0x7FFFFFF0); },
       "data directory[1] (import)"},
      {"exception_directory_outside", "basics.arm64.dll",
       [](Bytes& b) { put<uint32_t>(b, Layout(b).directory(pe::kExceptionDirectory) + 4, 0x7FFFFFF0); },
       "data directory[3] (exception)"},
      // A load-config directory of 1-3 bytes at the very end of a section's raw
      // data passes the directory check, and its 4-byte Size field is not there to read.
      {"load_config_cut_at_raw_end", "basics.x64.dll",
       [](Bytes& b) {
         const Layout l(b);
         const uint32_t va = get<uint32_t>(b, l.section(0) + 12), raw = get<uint32_t>(b, l.section(0) + 16);
         put<uint32_t>(b, l.directory(pe::kLoadConfigDirectory), va + raw - 2);
         put<uint32_t>(b, l.directory(pe::kLoadConfigDirectory) + 4, 2);
       },
       "load config.Size: the directory at RVA"},
      {"reloc_directory_outside", "basics.x64.dll",
       [](Bytes& b) { put<uint32_t>(b, Layout(b).directory(pe::kBaseRelocationDirectory), 0x10000000); },
       "data directory[5] (basereloc)"},
      {"load_config_outside", "basics.arm64.dll",
       [](Bytes& b) { put<uint32_t>(b, Layout(b).directory(pe::kLoadConfigDirectory), 0x7FFFF000); },
       "data directory[10] (load_config)"},
      {"reloc_block_size_zero", "basics.x64.dll",
       [](Bytes& b) {
         const uint32_t rva = get<uint32_t>(b, Layout(b).directory(pe::kBaseRelocationDirectory));
         put<uint32_t>(b, fileOffsetOf(b, rva) + 4, 0);
       },
       "SizeOfBlock"},
      {"export_name_garbage", "basics.x64.dll",
       [](Bytes& b) {
         const uint32_t dir = fileOffsetOf(b, get<uint32_t>(b, Layout(b).directory(pe::kExportDirectory)));
         put<uint32_t>(b, fileOffsetOf(b, get<uint32_t>(b, dir + 32)), 0x7FFFFFFF);
       },
       "export name[0]"},
      {"export_count_absurd", "basics.arm64.dll",
       [](Bytes& b) {
         const uint32_t dir = fileOffsetOf(b, get<uint32_t>(b, Layout(b).directory(pe::kExportDirectory)));
         put<uint32_t>(b, dir + 20, 0x7FFFFFFF);
       },
       "NumberOfFunctions"},
      {"import_name_garbage", "imports.x64.dll",
       [](Bytes& b) {
         const uint32_t dir = fileOffsetOf(b, get<uint32_t>(b, Layout(b).directory(pe::kImportDirectory)));
         put<uint32_t>(b, dir + 12, 0x7FFFFFFF);
       },
       "import descriptor[0].Name"},
      {"load_config_size_garbage", "basics.x64.dll",
       [](Bytes& b) {
         const uint32_t dir = fileOffsetOf(b, get<uint32_t>(b, Layout(b).directory(pe::kLoadConfigDirectory)));
         put<uint32_t>(b, dir, 0xFFFFFFFF);
       },
       "load config.Size"},
      {"hotpatch_table_outside", "basics.arm64.dll",
       [](Bytes& b) {
         const uint32_t dir = fileOffsetOf(b, get<uint32_t>(b, Layout(b).directory(pe::kLoadConfigDirectory)));
         put<uint32_t>(b, dir + pe::loadcfg::kHotPatchTableOffset, 0x7FFFFFFF);
       },
       "load config.HotPatchTableOffset"},
      {"hotpatch_sequence_zero", "counter_hotpatch.x64.dll", [](Bytes& b) { put<uint32_t>(b, hotPatchInfo(b) + 8, 0); },
       "HotPatchInfo.SequenceNumber"},
      {"hotpatch_size_small", "counter_hotpatch.arm64.dll", [](Bytes& b) { put<uint32_t>(b, hotPatchInfo(b) + 4, 4); },
       "HotPatchInfo.Size"},
      {"hotpatch_no_base", "counter_hotpatch.arm64.dll", [](Bytes& b) { put<uint32_t>(b, hotPatchInfo(b) + 16, 0); },
       "HotPatchInfo.BaseImageCount"},
      {"hotpatch_base_list_outside", "counter_hotpatch.x64.dll",
       [](Bytes& b) { put<uint32_t>(b, hotPatchInfo(b) + 12, 0x7FFFFF00); }, "HotPatchInfo.BaseImageList"},
      {"hotpatch_base_over_itself", "counter_patch2.x64.dll", [](Bytes& b) { put<uint32_t>(b, hotPatchBase(b), 2); },
       "HotPatchBase[0].SequenceNumber"},
      {"hotpatch_table_count_absurd", "counter_hotpatch.x64.dll",
       [](Bytes& b) { put<uint32_t>(b, hotPatchTable(b), 0x10000000); }, "HotPatchBase[0].PatchTable"},
      {"hotpatch_chunk_type_garbage", "counter_hotpatch.arm64.dll",
       [](Bytes& b) { put<uint32_t>(b, hotPatchTable(b) + 4, 0x12345); }, "HotPatchBase[0].PatchTable[0].Type"},
      {"hotpatch_source_outside", "counter_hotpatch.x64.dll",
       [](Bytes& b) { put<uint32_t>(b, hotPatchTable(b) + 4 + 12 + 4, 0x7FFFFFF0); },
       "HotPatchBase[0].PatchTable[1].SourceRva"},
      // CHPE metadata of a hybrid (Arm64EC) image
      {"chpe_pointer_outside", "hybrid.arm64ec.dll",
       [](Bytes& b) {
         const uint32_t dir = fileOffsetOf(b, get<uint32_t>(b, Layout(b).directory(pe::kLoadConfigDirectory)));
         put<uint64_t>(b, dir + pe::loadcfg::kChpeMetadataPointer, 0x7FFFFFFF0000);
       },
       "load config.CHPEMetadataPointer"},
      {"chpe_version_unknown", "hybrid.arm64ec.dll", [](Bytes& b) { put<uint32_t>(b, chpeMetadata(b), 9); },
       "CHPE metadata.Version"},
      {"chpe_code_map_count_absurd", "hybrid.arm64ec.dll",
       [](Bytes& b) { put<uint32_t>(b, chpeMetadata(b) + 8, 0x100000); }, "CHPE metadata.CodeMap"},
      {"chpe_code_map_outside", "hybrid.arm64ec.dll",
       [](Bytes& b) { put<uint32_t>(b, chpeTable(b, 4) + 4, 0x7FFFFFF0); }, "CHPE metadata.CodeMap[0]"},
      {"chpe_code_map_unsorted", "hybrid.arm64ec.dll",
       [](Bytes& b) {
         const uint32_t map = chpeTable(b, 4);
         put<uint32_t>(b, map + 8, (get<uint32_t>(b, map) & ~3u) | 2);  // x64, where the Arm64EC range starts
       },
       "CHPE metadata.CodeMap[1]: range 0x1000+0x10e0 overlaps or precedes"},
      {"chpe_code_map_type_3", "hybrid.arm64ec.dll", [](Bytes& b) { b[chpeTable(b, 4)] |= 3; },
       "CHPE metadata.CodeMap[0]: range type 3"},
      {"chpe_entry_point_range_empty", "hybrid.arm64ec.dll",
       [](Bytes& b) { put<uint32_t>(b, chpeTable(b, 0x0C) + 4, 0); }, "CHPE metadata.CodeRangesToEntryPoints[0]"},
      {"chpe_entry_point_not_x64", "hybrid.arm64ec.dll",
       [](Bytes& b) { put<uint32_t>(b, chpeTable(b, 0x0C) + 8, 0x1000); }, "CHPE metadata.CodeRangesToEntryPoints[0]"},
      {"chpe_redirection_to_x64", "hybrid.arm64ec.dll",
       [](Bytes& b) {
         const uint32_t r = chpeTable(b, 0x10);
         put<uint32_t>(b, r + 4, get<uint32_t>(b, r));
       },
       "CHPE metadata.RedirectionMetadata[0]"},
      {"chpe_dispatch_slot_outside", "hybrid.arm64ec.dll",
       [](Bytes& b) { put<uint32_t>(b, chpeMetadata(b) + 0x1C, 0x7FFFFFF0); },
       "CHPE metadata.__os_arm64x_dispatch_call: slot 0x7ffffff0"},
      {"chpe_extra_rfe_outside", "hybrid.arm64ec.dll",
       [](Bytes& b) { put<uint32_t>(b, chpeMetadata(b) + 0x40, 0x7FFFFFF0); }, "CHPE metadata.ExtraRFETable"},
      {"chpe_extra_rfe_entry_in_x64_code", "hybrid.arm64ec.dll",
       [](Bytes& b) { put<uint32_t>(b, chpeTable(b, 0x40), 0x2000); },
       "CHPE metadata.ExtraRFETable entry[0]: function 0x2000 is not Arm64 code"},
      {"chpe_entry_thunk_outside_code", "hybrid.arm64ec.dll",
       [](Bytes& b) { put<uint32_t>(b, fileOffsetOf(b, hybridAddBody(b) - 4), 0x7FF01); },
       "CHPE export 'add': the entry-thunk word"},
      {"chpe_entry_thunk_word_even", "hybrid.arm64ec.dll",
       [](Bytes& b) {
         const uint32_t at = fileOffsetOf(b, hybridAddBody(b) - 4);
         put<uint32_t>(b, at, get<uint32_t>(b, at) & ~1u);
       },
       "CHPE export 'add': the entry-thunk word"},
      {"chpe_extra_rfe_size_odd", "hybrid.arm64ec.dll",
       [](Bytes& b) { put<uint32_t>(b, chpeMetadata(b) + 0x44, get<uint32_t>(b, chpeMetadata(b) + 0x44) + 4); },
       "CHPE metadata.ExtraRFETable: 0x"},
      // The code map claims the headers are Arm64EC code, and add's sequence jumps there:
      // a body in no section (hph inspect dereferenced its section).
      {"chpe_body_in_the_headers", "hybrid.arm64ec.dll",
       [](Bytes& b) {
         const uint32_t map = chpeTable(b, 4);
         put<uint32_t>(b, map + 4, get<uint32_t>(b, map + 4) + (get<uint32_t>(b, map) & ~3u));
         put<uint32_t>(b, map, 0 | 1);
         const uint32_t addSequence = get<uint32_t>(b, chpeTable(b, 0x10) + 8);
         put<int32_t>(b, fileOffsetOf(b, addSequence) + 10, static_cast<int32_t>(0x400 - (addSequence + 14)));
         put<uint32_t>(b, 0x3FC, 0x1000 - 0x400 + 1);  // an entry-thunk word naming 0x1000
         const uint32_t redirections = chpeTable(b, 0x10);
         put<uint32_t>(b, redirections + 8 + 4, 0x400);
       },
       "CHPE export 'add': its body 0x400 is not inside an executable section"},
      {"chpe_fast_forward_into_data", "hybrid.arm64ec.dll",
       [](Bytes& b) {
         const uint32_t thunk = fileOffsetOf(b, get<uint32_t>(b, chpeTable(b, 0x10) + 8));  // add's sequence
         put<int32_t>(b, thunk + 10, 0x2000);
       },
       "CHPE export 'add': its fast-forward sequence"},
      {"pdata_entry_garbage", "basics.x64.dll",
       [](Bytes& b) {
         const uint32_t dir = fileOffsetOf(b, get<uint32_t>(b, Layout(b).directory(pe::kExceptionDirectory)));
         put<uint32_t>(b, dir + 4, 0);  // EndAddress before BeginAddress
       },
       "exception directory entry[0]"},
  };
  return cases;
}

class Malformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(Malformed, InspectRefusesWithExitCode2AndOneLineNamingFileAndField) {
  const MalformedCase& c = GetParam();
  Bytes bytes = readFile(corpusImage(c.base));
  c.mutate(bytes);
  const std::string path = writeTempFile(std::string(c.name) + ".dll", bytes);
  for (const char* command : {"inspect", "call"}) {
    std::vector<std::string> args = {command, path};
    if (std::string(command) == "call") args.push_back("mix64");
    const CommandResult r = runHph(args);
    EXPECT_EQ(r.exitCode, 2) << command << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("hph: " + path + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.field), std::string::npos) << "expected '" << c.field << "' in: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, Malformed, ::testing::ValuesIn(malformedCases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(MalformedPaths, MissingFileAndDirectoryAreBadInput) {
  for (const std::string& path : {std::string("/nonexistent/x.dll"), std::string("/tmp")}) {
    const CommandResult r = runHph({"inspect", path});
    EXPECT_EQ(r.exitCode, 2) << r.err;
    EXPECT_EQ(r.err.rfind("hph: " + path + ": ", 0), 0u) << r.err;
  }
}

// Random damage anywhere in the headers and tables: the reader returns an image or a
// bad-input error; a crash or a hang fails the test (and the CTest timeout).
RC_GTEST_PROP(MalformedFuzz, ReaderNeverCrashesOnDamagedImages, ()) {
  const auto name =
      *rc::gen::element<std::string>("basics.x64.dll", "basics.arm64.dll", "imports.x64.dll", "imports.arm64.dll",
                                     "counter_hotpatch.x64.dll", "hybrid.arm64ec.dll");
  static std::map<std::string, Bytes> cache;
  if (!cache.count(name)) cache[name] = readFile(corpusImage(name));
  Bytes bytes = cache[name];
  const auto edits = *rc::gen::inRange(1, 8);
  for (int i = 0; i < edits; ++i) {
    // Mostly the first 2 KiB (headers, directories, tables), sometimes anywhere.
    const size_t limit = *rc::gen::element<size_t>(0x400, 0x800, bytes.size());
    const size_t at = *rc::gen::inRange<size_t>(0, std::min(limit, bytes.size()) - 4);
    switch (*rc::gen::inRange(0, 3)) {
    case 0: bytes[at] = *rc::gen::arbitrary<uint8_t>(); break;
    case 1:
      put<uint32_t>(bytes, at,
                    *rc::gen::element<uint32_t>(0, 0xFFFFFFFF, 0x7FFFFFFF, 0x1000, *rc::gen::arbitrary<uint32_t>()));
      break;
    case 2: bytes.resize(*rc::gen::inRange<size_t>(4, bytes.size())); break;
    }
  }
  auto image = parsePeImage(bytes, "damaged.dll");
  if (!image.ok()) {
    RC_ASSERT(image.error().status == Status::kBadInput);
    RC_ASSERT(image.error().message.rfind("damaged.dll: ", 0) == 0);
    RC_ASSERT(image.error().message.find('\n') == std::string::npos);
    return;
  }
  // What parses must also load (or be refused as bad input), never crash.
  auto machine = Machine::create(*image->arch);
  RC_ASSERT(machine.ok());
  auto loaded = loadImage(**machine, *image, std::nullopt);
  const bool loadedOrRefused = loaded.ok() || loaded.error().status == Status::kBadInput;
  RC_ASSERT(loadedOrRefused);
}

}  // namespace
}  // namespace hph::test
