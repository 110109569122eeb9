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
  EXPECT_FALSE(native.arm64x.empty());
  EXPECT_FALSE(native.chpe) << "the CHPE metadata serves the Arm64EC view";
  EXPECT_EQ(exportNames(native), (std::set<std::string>{"add", "native_machine"}));
  // A plain Arm64 or x64 image has none.
  for (const char* plain : {"basics.arm64.dll", "basics.x64.dll", "hybrid.arm64ec.dll"}) {
    auto image = readPeImage(corpusImage(plain));
    ASSERT_TRUE(image.ok());
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

// check (like gate and onhost) takes the native view: an Arm64 image like any other.
TEST(Arm64x, CheckRunsTheNativeView) {
  const std::string toml = "name = \"arm64x-native\"\narch = \"arm64\"\nbase = \"" + corpusImage("hybridx.arm64x.dll") +
                           "\"\n[threads]\ncount = 2\nentry = \"native_machine\"\n[explore]\nstrategy = "
                           "\"exhaustive\"\n";
  const CommandResult check = runHph({"check", writeTempFile("arm64x-native.toml", {toml.begin(), toml.end()})});
  EXPECT_EQ(check.exitCode, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("PASS arm64x-native: holds"), std::string::npos) << check.out;
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
  EXPECT_NE(notArm64x.err.find("--view arm64ec: " + plain + " is not an ARM64X image"), std::string::npos)
      << notArm64x.err;
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

}  // namespace
}  // namespace hph::test
