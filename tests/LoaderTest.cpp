// The loader on both architectures: sections, exports, .pdata (x64 RUNTIME_FUNCTION,
// Arm64 packed and unpacked), relocations, imports bound to shims, load config, CHPE.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "emu/pe/ImageRebase.h"
#include "emu/pe/PeFormat.h"
#include "emu/pe/UnwindTable.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

class Loader : public ::testing::TestWithParam<std::string> {
 protected:
  PeImage read(const std::string& stem) {
    auto image = readPeImage(corpusImage(stem + "." + GetParam() + ".dll"));
    EXPECT_TRUE(image.ok()) << (image.ok() ? "" : image.error().message);
    return image.ok() ? std::move(image).value() : PeImage{};
  }
};

TEST_P(Loader, ReadsHeadersAndSections) {
  const PeImage image = read("basics");
  ASSERT_NE(image.arch, nullptr);
  EXPECT_EQ(image.arch->name(), GetParam());
  EXPECT_EQ(image.imageBase, 0x180000000u);
  EXPECT_NE(image.checkSum, 0u) << "linked with /release: the checksum is real";
  std::vector<std::string> names;
  for (const SectionInfo& s : image.sections) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{".text", ".rdata", ".data", ".pdata", ".reloc"}));
  EXPECT_TRUE(image.sections[0].executable());
  EXPECT_FALSE(image.sections[1].executable());
}

TEST_P(Loader, EveryExportIsAFunctionWithARange) {
  const PeImage image = read("basics");
  EXPECT_EQ(image.exports.size(), 14u);
  for (const ExportInfo& e : image.exports) {
    const FunctionInfo* f = image.findFunction(e.name);
    ASSERT_NE(f, nullptr) << e.name;
    EXPECT_EQ(f->begin, e.rva);
    EXPECT_GT(f->end, f->begin);
    EXPECT_TRUE(f->exported);
    // Whatever follows a function is padding or the next function, never its own code.
    const std::vector<uint8_t> after = image.bytesAt(f->end, 4);
    const bool padding = image.arch->isPadding(std::span(after).first(image.arch->kind() == ArchKind::kX64 ? 1 : 4));
    const bool nextFunction = image.functionContaining(f->end) != nullptr;
    EXPECT_TRUE(padding || nextFunction || after.empty()) << e.name;
  }
  EXPECT_EQ(image
                .findFunction("rva:0x" +
                              [&] {
                                char b[16];
                                std::snprintf(b, sizeof b, "%x", image.exports[0].rva);
                                return std::string(b);
                              }())
                ->name,
            image.exports[0].name);
  EXPECT_EQ(image.findFunction("no_such_function"), nullptr);
  EXPECT_EQ(image.findFunction("rva:0xZZ"), nullptr);
}

TEST_P(Loader, LeafFunctionsEndWithAReturnOrTailJump) {
  const PeImage image = read("basics");
  for (const FunctionInfo& f : image.functions) {
    if (!f.lengthEstimated) continue;
    // Decode the estimated range; the last instruction must leave the function.
    const std::vector<uint8_t> code = image.bytesAt(f.begin, f.end - f.begin);
    uint32_t offset = 0;
    std::string last;
    while (offset < code.size()) {
      auto insn = image.arch->decode(std::span(code).subspan(offset), image.imageBase + f.begin + offset);
      ASSERT_GT(insn.length, 0u);
      last = insn.text;
      offset += insn.length;
    }
    EXPECT_EQ(offset, code.size()) << f.name;
    EXPECT_TRUE(last.starts_with("ret") || last.starts_with("jmp") || last.starts_with("b ") || last.starts_with("br "))
        << f.name << " ends with " << last;
  }
}

TEST_P(Loader, ReadsThePdataOfNonLeafFunctions) {
  const PeImage image = read("basics");
  auto unwind = pe::readUnwindTable(image);
  ASSERT_TRUE(unwind.ok());
  ASSERT_FALSE(unwind->empty());
  for (const pe::UnwindEntry& entry : *unwind) {
    const FunctionInfo* f = image.functionContaining(entry.begin);
    ASSERT_NE(f, nullptr);
    EXPECT_TRUE(f->hasUnwindInfo);
    EXPECT_EQ(f->end, entry.end);
  }
  for (const char* name : {"fib_rec", "call_chain", "apply_op"})
    EXPECT_TRUE(image.findFunction(name)->hasUnwindInfo) << name;
  if (GetParam() == "arm64") {
    // lld emitted both forms here (llvm-readobj-22 --unwind): packed and .xdata records.
    const bool packed = std::any_of(unwind->begin(), unwind->end(), [](auto& e) { return e.packed; });
    const bool unpacked = std::any_of(unwind->begin(), unwind->end(), [](auto& e) { return !e.packed; });
    EXPECT_TRUE(packed && unpacked);
    EXPECT_EQ(image.findFunction("apply_op")->end - image.findFunction("apply_op")->begin, 52u);
    EXPECT_EQ(image.findFunction("call_chain")->end - image.findFunction("call_chain")->begin, 132u);
  }
}

TEST_P(Loader, ReadsRelocationsAndLoadConfig) {
  const PeImage image = read("basics");
  ASSERT_EQ(image.relocations.size(), 4u) << "the four entries of g_ops";
  for (const BaseRelocation& r : image.relocations) EXPECT_EQ(r.type, pe::kRelDir64);
  ASSERT_TRUE(image.loadConfig);
  EXPECT_EQ(image.loadConfig->size, 0x140u);
  EXPECT_EQ(image.loadConfig->hotPatchTableOffset, 0u);
  EXPECT_EQ(image.loadConfig->chpeMetadataPointer, 0u);
  EXPECT_FALSE(image.chpe);
}

TEST_P(Loader, BindsImportsToShimStubs) {
  const PeImage image = read("imports");
  ASSERT_EQ(image.imports.size(), 3u);
  for (const ImportInfo& i : image.imports) EXPECT_EQ(i.dll, "kernel32.dll");
  auto machine = Machine::create(*image.arch);
  ASSERT_TRUE(machine.ok());
  auto loaded = loadImage(**machine, image);
  ASSERT_TRUE(loaded.ok());
  for (const ImportInfo& i : image.imports) {
    uint64_t slot = 0;
    ASSERT_TRUE((*machine)->readGuest(loaded->address(i.iatRva), {reinterpret_cast<uint8_t*>(&slot), 8}));
    EXPECT_GE(slot, Machine::kShimBase);
    EXPECT_EQ((*machine)->symbolize(slot), "shim kernel32.dll!" + i.function);
  }
}

TEST_P(Loader, RefusesAnImageOfTheOtherArchitecture) {
  const PeImage image = read("basics");
  const Arch& other = GetParam() == "x64" ? arm64Arch() : x64Arch();
  auto machine = Machine::create(other);
  ASSERT_TRUE(machine.ok());
  auto loaded = loadImage(**machine, image);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().status, Status::kBadInput);
  EXPECT_NE(loaded.error().message.find("FileHeader.Machine"), std::string::npos);
}

// Windows loads an image that has no base-relocation directory anywhere: nothing needs
// fixing. Only IMAGE_FILE_RELOCS_STRIPPED ties it to its preferred base.
TEST_P(Loader, LoadsAnImageWithoutRelocationsAnywhereUnlessStripped) {
  const std::string path = corpusImage("account_patch." + GetParam() + ".dll");
  auto file = readFile(path);
  auto image = parsePeImage(file, path);
  ASSERT_TRUE(image.ok()) << image.error().message;
  ASSERT_TRUE(image->relocations.empty());
  ASSERT_EQ(image->directories[pe::kBaseRelocationDirectory].size, 0u);
  const uint64_t elsewhere = image->imageBase + 0x10000000;
  auto machine = Machine::create(*image->arch);
  ASSERT_TRUE(machine.ok());
  auto loaded = loadImage(**machine, *image, elsewhere);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->address(0x1000), elsewhere + 0x1000);
  // The same bytes with the flag set: refused at any other address, naming the field.
  const uint32_t peOffset = static_cast<uint32_t>(file[0x3c]) | static_cast<uint32_t>(file[0x3d]) << 8;
  file[peOffset + 4 + 18] |= pe::kFileRelocsStripped;  // FileHeader.Characteristics (low byte)
  auto stripped = parsePeImage(file, path);
  ASSERT_TRUE(stripped.ok()) << stripped.error().message;
  auto other = Machine::create(*stripped->arch);
  ASSERT_TRUE(other.ok());
  auto refused = loadImage(**other, *stripped, elsewhere);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().status, Status::kBadInput);
  EXPECT_NE(refused.error().message.find("FileHeader.Characteristics: IMAGE_FILE_RELOCS_STRIPPED"), std::string::npos)
      << refused.error().message;
  auto atHome = loadImage(**other, *stripped);
  EXPECT_TRUE(atHome.ok());
}

// An image rebased (hph onhost, when the host has its preferred base taken) is the image
// the loader makes at that base: loaded at its new preferred base, its memory equals the
// original's loaded there with the relocations applied in memory (but for the header's
// ImageBase, which the rebased image states). What cannot move is refused, naming why.
TEST_P(Loader, ARebasedImageIsTheImageLoadedThere) {
  const PeImage image = read("basics");
  ASSERT_FALSE(image.relocations.empty()) << "nothing would show the relocations applied";
  const uint64_t elsewhere = image.imageBase + 0x30000;
  auto moved = rebaseImage(image, elsewhere);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->imageBase, elsewhere);
  EXPECT_NE(moved->file, image.file);
  auto relocatedInMemory = Machine::create(*image.arch);
  auto rebasedFile = Machine::create(*image.arch);
  ASSERT_TRUE(relocatedInMemory.ok() && rebasedFile.ok());
  ASSERT_TRUE(loadImage(**relocatedInMemory, image, elsewhere).ok());
  ASSERT_TRUE(loadImage(**rebasedFile, *moved).ok());
  std::vector<uint8_t> a(image.sizeOfImage), b(image.sizeOfImage);
  ASSERT_TRUE((*relocatedInMemory)->readGuest(elsewhere, a));
  ASSERT_TRUE((*rebasedFile)->readGuest(elsewhere, b));
  const uint32_t peOffset = static_cast<uint32_t>(image.file[0x3c]) | static_cast<uint32_t>(image.file[0x3d]) << 8;
  uint64_t headerBase = 0;
  std::memcpy(&headerBase, b.data() + peOffset + 4 + 20 + 24, 8);
  EXPECT_EQ(headerBase, elsewhere);
  std::memcpy(b.data() + peOffset + 4 + 20 + 24, &image.imageBase, 8);
  EXPECT_EQ(a, b);
  // Back at the preferred base: the very same file.
  auto home = rebaseImage(*moved, image.imageBase);
  ASSERT_TRUE(home.ok());
  EXPECT_EQ(home->file, image.file);

  auto unaligned = rebaseImage(image, elsewhere + 0x1000);
  ASSERT_FALSE(unaligned.ok());
  EXPECT_EQ(unaligned.error().status, Status::kBadInput);
  EXPECT_NE(unaligned.error().message.find("is not 64 KiB aligned"), std::string::npos);
  PeImage stripped = image;
  stripped.characteristics |= pe::kFileRelocsStripped;
  auto refused = rebaseImage(stripped, elsewhere);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("FileHeader.Characteristics: IMAGE_FILE_RELOCS_STRIPPED"), std::string::npos);
  // A relocation in a zero-filled tail (bytes the file does not hold) cannot be applied to it.
  PeImage tail = image;
  SectionInfo& last = tail.sections.back();
  tail.relocations.push_back({last.virtualAddress + std::max(last.rawSize, last.virtualSize) - 8, pe::kRelDir64});
  last.virtualSize = std::max(last.rawSize, last.virtualSize);
  last.rawSize = 0;
  auto noBytes = rebaseImage(tail, elsewhere);
  ASSERT_FALSE(noBytes.ok());
  EXPECT_NE(noBytes.error().message.find("basereloc: the relocation at RVA"), std::string::npos)
      << noBytes.error().message;
  // Raw data two sections share: one fix would land in both.
  PeImage shared = image;
  ASSERT_GE(shared.sections.size(), 2u);
  shared.sections[1].rawOffset = shared.sections[0].rawOffset;
  auto sharing = rebaseImage(shared, elsewhere);
  ASSERT_FALSE(sharing.ok());
  EXPECT_NE(sharing.error().message.find("is shared with other bytes of the file"), std::string::npos)
      << sharing.error().message;
}

INSTANTIATE_TEST_SUITE_P(BothArchitectures, Loader, ::testing::Values("x64", "arm64"));

// CHPE metadata of the hybrid corpus image (corpus/src/hybrid.c as Arm64EC code,
// hybrid_x64.c as x64 code, one /machine:arm64ec link). Each fact the reader derives from
// the code is checked against what the metadata says independently.
TEST(Chpe, ReadsEveryEntryPathOfTheHybridImage) {
  auto image = readPeImage(corpusImage("hybrid.arm64ec.dll"));
  ASSERT_TRUE(image.ok()) << image.error().message;
  EXPECT_EQ(image->machine, pe::kMachineAmd64);  // Arm64EC keeps the x64 machine
  ASSERT_TRUE(image->chpe);
  const ChpeInfo& chpe = *image->chpe;
  EXPECT_EQ(chpe.version, 2u);
  ASSERT_EQ(chpe.codeMap.size(), 2u);
  EXPECT_EQ(chpe.codeMap[0].kind, ChpeRange::Kind::kArm64ec);
  EXPECT_EQ(chpe.codeMap[1].kind, ChpeRange::Kind::kAmd64);
  for (uint32_t slot : {chpe.dispatch.call, chpe.dispatch.icall, chpe.dispatch.ret, chpe.dispatch.callNoRedirect})
    EXPECT_NE(slot, 0u);
  EXPECT_GT(chpe.extraRfeTableSize, 0u);

  // Every Arm64EC export: hybrid.c's exported functions, and hybrid_x64.c's x64 export not.
  std::map<std::string, const HybridFunction*> byName;
  for (const HybridFunction& f : chpe.functions) byName[f.name] = &f;
  for (const char* name : {"add", "mul", "square_of", "sum_squares", "scaled", "apply", "apply_add", "ec_calls_x64",
                           "sum6", "ec_calls_x64_sum6", "sum_va", "ec_calls_sum_va", "hybrid_worker", "hybrid_verify"})
    EXPECT_TRUE(byName.count(name)) << name;
  for (const char* name : {"x64_calls_add", "x64_calls_sum6", "x64_calls_sum_va"}) EXPECT_FALSE(byName.count(name));
  EXPECT_EQ(chpe.functions.size(), 14u);
  ASSERT_EQ(chpe.redirections.size(), chpe.functions.size());
  for (const HybridFunction& f : chpe.functions) {
    SCOPED_TRACE(f.name);
    // The export points at the fast-forward sequence, whose jump the loader's redirection
    // shortcut agrees with.
    const auto exported = std::find_if(image->exports.begin(), image->exports.end(),
                                       [&](const ExportInfo& e) { return e.name == f.name; });
    ASSERT_NE(exported, image->exports.end());
    EXPECT_EQ(exported->rva, f.fastForward);
    EXPECT_TRUE(std::any_of(chpe.redirections.begin(), chpe.redirections.end(), [&](const ChpeRedirection& r) {
      return r.source == f.fastForward && r.destination == f.body;
    }));
    EXPECT_TRUE(std::any_of(chpe.entryPoints.begin(), chpe.entryPoints.end(), [&](const ChpeEntryPointRange& e) {
      return e.begin == f.fastForward && e.entry == f.fastForward;
    }));
    ASSERT_TRUE(chpe.rangeAt(f.body) && chpe.rangeAt(f.entryThunk));
    EXPECT_EQ(chpe.rangeAt(f.body)->kind, ChpeRange::Kind::kArm64ec);
    EXPECT_EQ(chpe.rangeAt(f.entryThunk)->kind, ChpeRange::Kind::kArm64ec);
    // The entry thunk saves v6-v15 as the Arm64EC ABI's entry thunks do: `stp q6, q7, [sp, #-0xb0]!`.
    const std::vector<uint8_t> thunk = image->bytesAt(f.entryThunk, 4);
    uint32_t first;
    std::memcpy(&first, thunk.data(), 4);
    EXPECT_EQ(first, 0xadba9fe6u);
    EXPECT_GT(f.bodyEnd, f.body);
    EXPECT_EQ(f.hybridPatchable, f.name == "mul");  // only mul is __attribute__((hybrid_patchable))
  }
  // add is `add x0, x1, x0; ret`: its body ends after two instructions (no .pdata: a leaf).
  const HybridFunction& add = *byName.at("add");
  EXPECT_EQ(add.bodyEnd - add.body, 8u);
  EXPECT_TRUE(add.bodyEndEstimated);
  const std::vector<uint8_t> body = image->bytesAt(add.body, 8);
  uint32_t words[2];
  std::memcpy(words, body.data(), 8);
  EXPECT_EQ(words[0], 0x8b000020u);  // add x0, x1, x0
  EXPECT_EQ(words[1], 0xd65f03c0u);  // ret
  // The x64 half is the image's own x64 function table.
  EXPECT_TRUE(image->findFunction("x64_calls_add"));
}

// A leaf body's end is estimated from what else is known to begin code; a BL's target is
// such a place (a helper without .pdata right after a body, say). Here another function's
// first instruction becomes `bl add+4`: add's estimated body ends there.
TEST(Chpe, ABranchAndLinkTargetEndsAnEstimatedBody) {
  const std::string path = corpusImage("hybrid.arm64ec.dll");
  auto bytes = readFile(path);
  auto image = parsePeImage(bytes, path);
  ASSERT_TRUE(image.ok()) << image.error().message;
  std::map<std::string, HybridFunction> byName;
  for (const HybridFunction& f : image->chpe->functions) byName[f.name] = f;
  const HybridFunction add = byName.at("add"), caller = byName.at("scaled");
  ASSERT_EQ(add.bodyEnd - add.body, 8u);
  const auto at = image->fileOffset(caller.body, 4);
  ASSERT_TRUE(at);
  const uint32_t bl = 0x94000000u | (static_cast<uint32_t>((int64_t{add.body} + 4 - caller.body) / 4) & 0x3FFFFFFu);
  std::memcpy(bytes.data() + *at, &bl, 4);
  auto changed = parsePeImage(bytes, path);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  for (const HybridFunction& f : changed->chpe->functions)
    if (f.name == "add") {
      EXPECT_EQ(f.bodyEnd, add.body + 4);
      EXPECT_TRUE(f.bodyEndEstimated);
    }
}

}  // namespace
}  // namespace hph::test
