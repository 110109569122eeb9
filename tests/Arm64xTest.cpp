// ARM64X images (emu/pe/Arm64xRelocations): corpus/images/hybridx.arm64x.dll holds a native
// Arm64 view (hybrid_native.c) and, through its ARM64X dynamic value relocations, the
// Arm64EC view of the sources hybrid.arm64ec.dll is built from. The Arm64EC view is checked
// against that image; malformed tables are bad input naming the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "emu/pe/Arm64xRelocations.h"
#include "emu/pe/PeFormat.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

using json = nlohmann::json;

std::set<std::string> exportNames(const PeImage& image) {
  std::set<std::string> names;
  for (const ExportInfo& e : image.exports) names.insert(e.name);
  return names;
}

PeImage arm64x() {
  auto image = readPeImage(corpusImage("hybridx.arm64x.dll"));
  EXPECT_TRUE(image.ok()) << image.error().message;
  return std::move(image).value();
}

TEST(Arm64x, TheFileIsTheNativeViewWithItsFixupsBeside) {
  const PeImage native = arm64x();
  EXPECT_EQ(native.machine, pe::kMachineArm64);
  EXPECT_TRUE(native.isArm64x);
  EXPECT_FALSE(native.arm64x.empty());
  EXPECT_FALSE(native.chpe) << "the CHPE metadata serves the Arm64EC view";
  EXPECT_EQ(exportNames(native), (std::set<std::string>{"add", "native_machine"}));
  // A plain Arm64 or x64 image has none.
  for (const char* plain : {"basics.arm64.dll", "basics.x64.dll", "hybrid.arm64ec.dll"}) {
    auto image = readPeImage(corpusImage(plain));
    ASSERT_TRUE(image.ok());
    EXPECT_FALSE(image->isArm64x) << plain;
    EXPECT_TRUE(image->arm64x.empty()) << plain;
  }
}

TEST(Arm64x, TheArm64ecViewIsTheHybridImageOfTheSameSources) {
  const PeImage native = arm64x();
  auto ec = pe::arm64ecView(native);
  ASSERT_TRUE(ec.ok()) << ec.error().message;
  EXPECT_EQ(ec->machine, pe::kMachineAmd64);
  ASSERT_TRUE(ec->chpe);
  auto hybrid = readPeImage(corpusImage("hybrid.arm64ec.dll"));
  ASSERT_TRUE(hybrid.ok());
  EXPECT_EQ(exportNames(*ec), exportNames(*hybrid));
  // The same functions with the same hybrid shape: Arm64EC body, fast-forward sequence,
  // entry thunk, hybrid-patchable or not.
  ASSERT_EQ(ec->chpe->functions.size(), hybrid->chpe->functions.size());
  for (size_t i = 0; i < ec->chpe->functions.size(); ++i) {
    const HybridFunction& a = ec->chpe->functions[i];
    const HybridFunction& b = hybrid->chpe->functions[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.fastForward != 0, b.fastForward != 0) << a.name;
    EXPECT_EQ(a.entryThunk != 0, b.entryThunk != 0) << a.name;
    EXPECT_EQ(a.hybridPatchable, b.hybridPatchable) << a.name;
  }
  std::set<ChpeRange::Kind> kinds;
  for (const ChpeRange& r : ec->chpe->codeMap) kinds.insert(r.kind);
  EXPECT_TRUE(kinds.count(ChpeRange::Kind::kArm64ec) && kinds.count(ChpeRange::Kind::kAmd64));
}

// lld writes only value fixups; zero-fill and delta (signed, scaled by 4 or 8) are applied
// as Windows' and Wine's loaders apply them, here to header fields parsing reads back.
TEST(Arm64x, ZeroFillAndDeltaFixupsChangeWhatTheyName) {
  PeImage native = arm64x();
  uint32_t peHeader = 0;
  std::memcpy(&peHeader, &native.file[pe::kLfanewOffset], 4);
  const uint32_t timeDateStamp = peHeader + 8, checkSum = peHeader + 24 + pe::opt::kCheckSum;
  native.arm64x.push_back({.kind = Arm64xFixup::Kind::kDelta, .rva = timeDateStamp, .size = 4, .delta = -8 * 3});
  native.arm64x.push_back({.kind = Arm64xFixup::Kind::kZeroFill, .rva = checkSum, .size = 4});
  auto ec = pe::arm64ecView(native);
  ASSERT_TRUE(ec.ok()) << ec.error().message;
  EXPECT_EQ(ec->timeDateStamp, native.timeDateStamp - 24);
  EXPECT_NE(native.checkSum, 0u);
  EXPECT_EQ(ec->checkSum, 0u);
  // Bytes the file does not hold cannot change: only a zero-fill there is a no-op.
  native.arm64x.push_back({.kind = Arm64xFixup::Kind::kValue, .rva = native.sizeOfImage - 4, .size = 4, .value = 1});
  auto beyond = pe::arm64ecView(native);
  ASSERT_FALSE(beyond.ok());
  EXPECT_NE(beyond.error().message.find("changes bytes the file does not hold"), std::string::npos);
}

// Both views run: the native one on the Arm64 engine alone, the Arm64EC one as a hybrid
// process, with the results of hybrid.arm64ec.dll.
TEST(Arm64x, EachViewRunsAsItsProcessWould) {
  const std::string image = corpusImage("hybridx.arm64x.dll");
  const CommandResult native = runHph({"call", image, "add", "2", "40", "--json"});
  ASSERT_EQ(native.exitCode, 0) << native.err;
  EXPECT_EQ(json::parse(native.out)["arch"], "arm64");
  EXPECT_EQ(json::parse(native.out)["result"], 42u);
  EXPECT_FALSE(json::parse(native.out).contains("engine_crossings"));
  EXPECT_EQ(json::parse(runHph({"call", image, "native_machine", "--json"}).out)["result"], 0xAA64u);

  for (const char* function : {"add", "sum6", "ec_calls_x64", "x64_calls_add", "scaled"}) {
    const std::vector<std::string> args{"7", "5", "3", "2", "1", "9"};
    auto callArgs = [&](const std::string& path) {
      std::vector<std::string> a{"call", path, function};
      a.insert(a.end(), args.begin(), args.end());
      a.push_back("--json");
      return a;
    };
    std::vector<std::string> viewArgs = callArgs(image);
    viewArgs.insert(viewArgs.end(), {"--view", "arm64ec"});
    const CommandResult view = runHph(viewArgs);
    const CommandResult reference = runHph(callArgs(corpusImage("hybrid.arm64ec.dll")));
    ASSERT_EQ(view.exitCode, 0) << function << ": " << view.err;
    ASSERT_EQ(reference.exitCode, 0) << function << ": " << reference.err;
    const json v = json::parse(view.out), r = json::parse(reference.out);
    EXPECT_EQ(v["arch"], "arm64ec") << function;
    EXPECT_EQ(v["result"], r["result"]) << function;
    EXPECT_EQ(v["engine_crossings"], r["engine_crossings"]) << function;
  }
}

// check (like gate and onhost) refuses an ARM64X image as it refuses a hybrid one: its
// native view's code map and .pdata hold Arm64EC and x64 code too. With HotPatchRestrictions
// the restriction names itself first: the image has CHPE metadata (for its Arm64EC view).
TEST(Arm64x, CheckRefusesItAndTheRestrictionNamesItself) {
  const std::string image = corpusImage("hybridx.arm64x.dll");
  auto scenario = [&](bool restriction) {
    std::string toml =
        "name = \"arm64x\"\narch = \"arm64\"\nbase = \"" + image + "\"\npatch = \"" +
        corpusImage("counter_patch.arm64.dll") +
        "\"\n[[functions]]\ntarget = \"add\"\nreplacement = \"bump_v2\"\n[protocol]\nname = \"b-direct\"\n"
        "[threads]\ncount = 2\n"
        "entry = \"native_machine\"\n";
    if (restriction) toml += "[chpe]\nrestriction = true\n";
    return writeTempFile(restriction ? "arm64x-restricted.toml" : "arm64x.toml", {toml.begin(), toml.end()});
  };
  const CommandResult refused = runHph({"check", scenario(false)});
  EXPECT_EQ(refused.exitCode, 2) << refused.out << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  EXPECT_NE(refused.err.find(image + ": DynamicValueRelocTable.ARM64X: an ARM64X image"), std::string::npos)
      << refused.err;
  const CommandResult restricted = runHph({"check", scenario(true)});
  EXPECT_EQ(restricted.exitCode, 2) << restricted.out << restricted.err;
  EXPECT_NE(restricted.err.find("[chpe].restriction"), std::string::npos) << restricted.err;
}

TEST(Arm64x, AViewThatDoesNotExistIsBadInput) {
  const CommandResult missing =
      runHph({"call", corpusImage("hybridx.arm64x.dll"), "native_machine", "--view", "arm64ec"});
  EXPECT_EQ(missing.exitCode, 2);
  EXPECT_NE(missing.err.find("function 'native_machine'"), std::string::npos) << missing.err;
  const std::string plain = corpusImage("basics.arm64.dll");
  const CommandResult notArm64x = runHph({"inspect", plain, "--view", "arm64ec"});
  EXPECT_EQ(notArm64x.exitCode, 2);
  EXPECT_EQ(std::count(notArm64x.err.begin(), notArm64x.err.end(), '\n'), 1) << notArm64x.err;
  EXPECT_NE(notArm64x.err.find(plain + ": --view arm64ec: not an ARM64X image"), std::string::npos) << notArm64x.err;
  EXPECT_EQ(runHph({"inspect", plain, "--view", "x86"}).exitCode, 2);
}

TEST(Arm64x, InspectShowsTheFixupsAndBothViews) {
  const std::string image = corpusImage("hybridx.arm64x.dll");
  const CommandResult text = runHph({"inspect", image});
  ASSERT_EQ(text.exitCode, 0) << text.err;
  EXPECT_NE(text.out.find("ARM64X: this is the native Arm64 view"), std::string::npos) << text.out;
  const json native = json::parse(runHph({"inspect", image, "--json"}).out);
  const PeImage parsed = arm64x();
  ASSERT_EQ(native["arm64x_fixups"].size(), parsed.arm64x.size());
  // The first fixup turns the header's machine into x64 (the Arm64EC view's).
  uint32_t peHeader = 0;
  std::memcpy(&peHeader, &parsed.file[pe::kLfanewOffset], 4);
  const uint32_t machineRva = peHeader + 4;
  const auto machineFixup = std::find_if(parsed.arm64x.begin(), parsed.arm64x.end(),
                                         [&](const Arm64xFixup& f) { return f.rva == machineRva; });
  ASSERT_NE(machineFixup, parsed.arm64x.end());
  EXPECT_EQ(machineFixup->value, pe::kMachineAmd64);
  const json ec = json::parse(runHph({"inspect", image, "--json", "--view", "arm64ec"}).out);
  EXPECT_TRUE(ec["arm64x_fixups"].is_null());
  EXPECT_FALSE(ec["chpe"].is_null());
}

// Hostile input: each field of the dynamic value relocation table, broken in the corpus
// image, is exit 2 naming it (and never a crash).
class BrokenArm64x : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = arm64x();
    const uint32_t config = *image_.fileOffset(image_.loadConfig->rva, 0x100);
    sectionField_ = config + pe::loadcfg::kDynamicValueRelocTableSection;
    offsetField_ = config + pe::loadcfg::kDynamicValueRelocTableOffset;
    uint16_t section;
    uint32_t offset;
    std::memcpy(&section, &image_.file[sectionField_], 2);
    std::memcpy(&offset, &image_.file[offsetField_], 4);
    table_ = image_.sections[section - 1].rawOffset + offset;
  }
  // Parses the image with `edit` applied; returns the error message ("" when it parsed).
  std::string parseWith(const std::function<void(std::vector<uint8_t>&)>& edit) {
    std::vector<uint8_t> file = image_.file;
    edit(file);
    auto parsed = parsePeImage(std::move(file), "broken.dll");
    if (parsed) {
      auto view = pe::arm64ecView(*parsed);
      return view ? "" : view.error().message;
    }
    EXPECT_EQ(parsed.error().status, Status::kBadInput);
    return parsed.error().message;
  }
  template <class T> static void put(std::vector<uint8_t>& file, size_t at, T value) {
    std::memcpy(&file[at], &value, sizeof value);
  }

  PeImage image_;
  size_t sectionField_ = 0, offsetField_ = 0, table_ = 0;
};

TEST_F(BrokenArm64x, ASectionThatDoesNotExist) {
  EXPECT_EQ(parseWith([&](auto& f) { put<uint16_t>(f, sectionField_, 99); }),
            "broken.dll: load config.DynamicValueRelocTableSection: section 99 does not exist (the image has 7)");
}

TEST_F(BrokenArm64x, AnOffsetPastItsSection) {
  EXPECT_NE(parseWith([&](auto& f) {
              put<uint32_t>(f, offsetField_, 0xFFFFFF00);
            }).find("broken.dll: load config.DynamicValueRelocTableOffset: "),
            std::string::npos);
}

TEST_F(BrokenArm64x, AnUnknownVersionOrSize) {
  EXPECT_EQ(parseWith([&](auto& f) { put<uint32_t>(f, table_, 3); }),
            "broken.dll: DynamicValueRelocTable.Version: 3 is not 1 or 2");
  EXPECT_NE(parseWith([&](auto& f) {
              put<uint32_t>(f, table_ + 4, 0x7FFFFFF0);
            }).find("broken.dll: DynamicValueRelocTable.Size: "),
            std::string::npos);
}

TEST_F(BrokenArm64x, ABlockOrAFixupThatDoesNotFit) {
  // Version 1: the entry header (12 bytes) after the table header (8), then the first block.
  const size_t block = table_ + 8 + 12;
  EXPECT_NE(parseWith([&](auto& f) { put<uint32_t>(f, block + 4, 0x10000); }).find("has SizeOfBlock 0x10000"),
            std::string::npos);
  // The first record given type 3 (bits 12-13), which no loader defines.
  EXPECT_NE(parseWith([&](auto& f) { f[block + 9] |= 0x30; }).find("has type 3, which is not defined"),
            std::string::npos);
  // The first block moved past the end of the image.
  EXPECT_NE(parseWith([&](auto& f) { put<uint32_t>(f, block, 0x7FFFF000); }).find("runs past SizeOfImage"),
            std::string::npos);
}

TEST_F(BrokenArm64x, TheIntactImageParsesInBothViews) {
  EXPECT_EQ(parseWith([](auto&) {}), "");
}
TEST_F(BrokenArm64x, APageNear4GiBDoesNotWrapToTheHeaders) {
  const size_t block = table_ + 8 + 12;
  EXPECT_NE(parseWith([&](auto& f) { put<uint32_t>(f, block, 0xFFFFFFF0); }).find("runs past SizeOfImage"),
            std::string::npos);
}

TEST_F(BrokenArm64x, AValueOfSizeZeroIsReservedAndAnOddBlockSizeIsRefused) {
  const size_t block = table_ + 8 + 12;
  EXPECT_NE(parseWith([&](auto& f) { f[block + 9] &= 0x3F; }).find("has size 0, which is reserved"), std::string::npos);
  EXPECT_NE(parseWith([&](auto& f) { put<uint32_t>(f, block + 4, 0x11); }).find("not an even size"), std::string::npos);
}

// Records decoded from the image's own table, rewritten: the corpus image (lld) holds
// value records only.
class Arm64xRecords : public BrokenArm64x {
 protected:
  // The image's fixups with `edit` applied to its file.
  std::vector<Arm64xFixup> decoded(const std::function<void(std::vector<uint8_t>&)>& edit) {
    std::vector<uint8_t> file = image_.file;
    edit(file);
    auto parsed = parsePeImage(std::move(file), "records.dll");
    EXPECT_TRUE(parsed.ok()) << parsed.error().message;
    return parsed ? parsed->arm64x : std::vector<Arm64xFixup>{};
  }
  size_t block() const { return table_ + 8 + 12; }
  uint16_t firstRecord() const {
    uint16_t r;
    std::memcpy(&r, &image_.file[block() + 8], 2);
    return r;
  }
};

TEST_F(Arm64xRecords, ADeltaIsScaledByFourOrEightAndSignedByItsArgument) {
  ASSERT_EQ((firstRecord() >> 12) & 3, 1) << "the first record is a 2-byte value (the header's machine)";
  const int64_t expected[4] = {5 * 4, -5 * 4, 5 * 8, -5 * 8};
  for (uint16_t arg = 0; arg < 4; ++arg) {
    const auto fixups = decoded([&](auto& f) {
      put<uint16_t>(f, block() + 8, static_cast<uint16_t>((firstRecord() & 0xfff) | (2 << 12) | (arg << 14)));
      put<uint16_t>(f, block() + 10, 5);  // the 2-byte value's slot holds the delta
    });
    ASSERT_EQ(fixups.size(), image_.arm64x.size());
    EXPECT_EQ(fixups[0].kind, Arm64xFixup::Kind::kDelta);
    EXPECT_EQ(fixups[0].rva, image_.arm64x[0].rva);
    EXPECT_EQ(fixups[0].delta, expected[arg]) << "arg " << arg;
  }
}

TEST_F(Arm64xRecords, AZeroFillIsOneRecordOfItsSize) {
  const uint16_t offset = firstRecord() & 0xfff;
  const auto fixups = decoded([&](auto& f) {
    put<uint16_t>(f, block() + 8, static_cast<uint16_t>(offset | (0 << 12) | (3 << 14)));         // 8 bytes
    put<uint16_t>(f, block() + 10, static_cast<uint16_t>((offset + 8) | (0 << 12) | (1 << 14)));  // 2 bytes
  });
  ASSERT_EQ(fixups.size(), image_.arm64x.size() + 1);
  EXPECT_EQ(fixups[0].kind, Arm64xFixup::Kind::kZeroFill);
  EXPECT_EQ(fixups[0].size, 8);
  EXPECT_EQ(fixups[1].kind, Arm64xFixup::Kind::kZeroFill);
  EXPECT_EQ(fixups[1].size, 2);
  EXPECT_EQ(fixups[1].rva, fixups[0].rva + 8);
  EXPECT_EQ(fixups[2].rva, image_.arm64x[1].rva);
}

TEST_F(Arm64xRecords, ABlockOfSizeZeroEndsTheListAndPaddingEndsTheBlock) {
  const auto none = decoded([&](auto& f) { put<uint32_t>(f, block() + 4, 0); });
  EXPECT_TRUE(none.empty());
  const auto padded = decoded([&](auto& f) { put<uint16_t>(f, block() + 8, 0); });
  EXPECT_LT(padded.size(), image_.arm64x.size());
  // Still ARM64X (the entry is there): its native view is not read as a hybrid image.
  std::vector<uint8_t> file = image_.file;
  put<uint32_t>(file, block() + 4, 0);
  auto parsed = parsePeImage(std::move(file), "records.dll");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->isArm64x);
  EXPECT_FALSE(parsed->chpe);
}

// Version 2 entries carry their own header size; the same fixups read through one.
TEST_F(Arm64xRecords, AVersionTwoTableReadsAsTheVersionOneTableItWasMadeFrom) {
  uint32_t fixupBytes;
  std::memcpy(&fixupBytes, &image_.file[table_ + 8 + 8], 4);
  const std::vector<uint8_t> blocks(image_.file.begin() + static_cast<ptrdiff_t>(block()),
                                    image_.file.begin() + static_cast<ptrdiff_t>(block() + fixupBytes));
  const auto fixups = decoded([&](auto& f) {
    put<uint32_t>(f, table_, 2);
    put<uint32_t>(f, table_ + 4, 24 + fixupBytes);
    put<uint32_t>(f, table_ + 8, 24);  // HeaderSize
    put<uint32_t>(f, table_ + 12, fixupBytes);
    put<uint64_t>(f, table_ + 16, 6);  // IMAGE_DYNAMIC_RELOCATION_ARM64X
    put<uint32_t>(f, table_ + 24, 0);  // SymbolGroup
    put<uint32_t>(f, table_ + 28, 0);  // Flags
    std::copy(blocks.begin(), blocks.end(), f.begin() + static_cast<ptrdiff_t>(table_ + 32));
    // The section holding the table grows by the 12 bytes the longer header takes.
    uint32_t peHeader;
    uint16_t section, optionalSize;
    std::memcpy(&peHeader, &f[pe::kLfanewOffset], 4);
    std::memcpy(&optionalSize, &f[peHeader + 20], 2);
    std::memcpy(&section, &f[sectionField_], 2);
    const size_t virtualSize = peHeader + 24 + optionalSize + 40 * (section - 1) + 8;
    uint32_t size;
    std::memcpy(&size, &f[virtualSize], 4);
    put<uint32_t>(f, virtualSize, size + 12);
  });
  ASSERT_EQ(fixups.size(), image_.arm64x.size());
  for (size_t i = 0; i < fixups.size(); ++i) {
    EXPECT_EQ(fixups[i].rva, image_.arm64x[i].rva);
    EXPECT_EQ(fixups[i].kind, image_.arm64x[i].kind);
    EXPECT_EQ(fixups[i].value, image_.arm64x[i].value);
  }
}

TEST_F(Arm64xRecords, AViewThatIsNotX64IsRefusedAndItsErrorsSaySo) {
  // No fixups (a block of size 0 ends the list): the "view" is the Arm64 file itself.
  std::vector<uint8_t> file = image_.file;
  put<uint32_t>(file, block() + 4, 0);
  auto parsed = parsePeImage(std::move(file), "records.dll");
  ASSERT_TRUE(parsed.ok());
  auto view = pe::arm64ecView(*parsed);
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.error().message,
            "records.dll: (Arm64EC view) FileHeader.Machine: 0xaa64 after the ARM64X fixups, not x64 (0x8664): no x64 "
            "process loads it");
  // The machine made x64 but the rest left native: what fails is said of the view.
  file = image_.file;
  // One block of the machine's value record only, the entry's only block.
  put<uint32_t>(file, block() + 4, 12);
  put<uint32_t>(file, table_ + 8 + 8, 12);
  parsed = parsePeImage(std::move(file), "records.dll");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->arm64x.size(), 1u);
  view = pe::arm64ecView(*parsed);
  ASSERT_FALSE(view.ok());
  EXPECT_TRUE(view.error().message.starts_with("records.dll (Arm64EC view): ")) << view.error().message;
}

}  // namespace
}  // namespace hph::test
