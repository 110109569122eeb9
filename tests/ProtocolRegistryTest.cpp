// patch/ProtocolRegistry: the one table of protocol and defect names. Its names parse back
// to themselves on their architectures only, each architecture has one default redirect,
// and the documentation names every protocol and defect the table has.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "patch/ProtocolRegistry.h"

namespace hph::test {
namespace {

std::string sourceFile(const std::string& relative) {
  std::ifstream in(std::string(HPH_CORPUS_DIR) + "/../" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ProtocolRegistry, NamesParseBackOnTheirArchitecturesOnly) {
  for (const ArchKind arch : {ArchKind::kX64, ArchKind::kArm64}) {
    std::set<std::string_view> names;
    int defaults = 0;
    for (const ProtocolKind p : protocolsFor(arch)) {
      EXPECT_TRUE(names.insert(protocolName(p)).second) << protocolName(p);
      EXPECT_EQ(parseProtocol(protocolName(p), arch), p);
      defaults += protocolInfo(p).defaultRedirect;
    }
    EXPECT_EQ(defaults, 1);
    EXPECT_TRUE(protocolRunsOn(defaultRedirectProtocol(arch), arch));
  }
  EXPECT_EQ(parseProtocol("padding-short-jmp", ArchKind::kArm64), std::nullopt);
  EXPECT_EQ(parseProtocol("veneer", ArchKind::kX64), std::nullopt);
  EXPECT_EQ(parseProtocol("Stop-The-World", ArchKind::kX64), std::nullopt);
  EXPECT_EQ(parseProtocol("", ArchKind::kX64), std::nullopt);
}

TEST(ProtocolRegistry, MessagesListTheRegistrysNames) {
  EXPECT_EQ(protocolNames(ArchKind::kX64), "naive-jmp5, padding-short-jmp, int3-3step, stop-the-world");
  EXPECT_EQ(notAProtocolOf("typo", ArchKind::kArm64),
            "protocol 'typo' is not one of arm64 (b-direct, veneer, literal-swap, stop-the-world)");
  EXPECT_EQ(notADefectOf("typo", ProtocolKind::kVeneer),
            "defect 'typo' is not one of veneer's (branch-before-veneer, no-veneer-maintenance, veneer-clobbers-x0)");
  EXPECT_EQ(notADefectOf("typo", ProtocolKind::kNaiveJmp5), "defect 'typo' is not one of naive-jmp5's (none)");
}

TEST(ProtocolRegistry, DefectsParseForTheirProtocolOnly) {
  for (const ProtocolInfo& p : protocolRegistry())
    for (const ProtocolDefect d : p.defects) {
      EXPECT_NE(d, ProtocolDefect::kNone) << p.name;
      EXPECT_EQ(parseDefect(defectName(d), p.kind), d) << p.name << " " << defectName(d);
      EXPECT_TRUE(protocolHasDefect(p.kind, d));
    }
  EXPECT_EQ(parseDefect("resume-inside", ProtocolKind::kStopTheWorld), std::nullopt);
  EXPECT_EQ(parseDefect("no-sync", ProtocolKind::kInt3ThreeStep), ProtocolDefect::kNoSync);
  EXPECT_EQ(parseDefect("no-sync", ProtocolKind::kBDirect), ProtocolDefect::kNoSync);
  EXPECT_EQ(parseDefect("", ProtocolKind::kBDirect), std::nullopt);
}

// The docs are written by hand: they must keep up with the table.
TEST(ProtocolRegistry, DocumentationNamesEveryProtocolAndDefect) {
  const std::string readme = sourceFile("README.md"), patches = sourceFile("docs/patches.md"),
                    properties = sourceFile("docs/properties.md");
  ASSERT_FALSE(readme.empty() || patches.empty() || properties.empty());
  for (const ProtocolInfo& p : protocolRegistry()) {
    const std::string quoted = "`" + std::string(p.name) + "`";
    EXPECT_NE(readme.find(quoted), std::string::npos) << p.name << " in README.md";
    EXPECT_NE(patches.find("| " + quoted + " |"), std::string::npos) << p.name << " in docs/patches.md";
    for (const ProtocolDefect d : p.defects)
      EXPECT_NE(properties.find("`" + std::string(defectName(d)) + "`"), std::string::npos)
          << defectName(d) << " in docs/properties.md";
  }
}

}  // namespace
}  // namespace hph::test
