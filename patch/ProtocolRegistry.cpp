#include "patch/ProtocolRegistry.h"

#include <fmt/format.h>

#include <algorithm>

namespace hph {
namespace {

using D = ProtocolDefect;

constexpr ArchKind kX64Only[] = {ArchKind::kX64};
constexpr ArchKind kArm64Only[] = {ArchKind::kArm64};
constexpr ArchKind kBoth[] = {ArchKind::kX64, ArchKind::kArm64};

constexpr D kPaddingShortJmpDefects[] = {D::kNoRelease, D::kStubClobbersRcx, D::kNoShortJmp};
constexpr D kInt3Defects[] = {D::kNoSync, D::kResumeInside};
constexpr D kBDirectDefects[] = {D::kNoSync};
constexpr D kVeneerDefects[] = {D::kBranchBeforeVeneer, D::kNoVeneerMaintenance, D::kVeneerClobbersX0};
constexpr D kLiteralSwapDefects[] = {D::kLiteralInHalves};
// One list for both architectures: a scenario may name any of them on either (Arm64's
// plan has no RIP-relative fixup and moves PCs regardless).
constexpr D kStopTheWorldDefects[] = {D::kNoMovePc, D::kWrongRipFixup, D::kNoRelease};

constexpr ProtocolInfo kProtocols[] = {
    {ProtocolKind::kNaiveJmp5,
     "naive-jmp5",
     kX64Only,
     "one 5-byte jmp rel32 over the entry (unsafe on purpose)",
     {},
     EntryRedirect::kBranch,
     true,
     false},
    {ProtocolKind::kPaddingShortJmp, "padding-short-jmp", kX64Only,
     "jmp rel32 in the padding to an address table, then eb f9 over the first instruction (Windows)",
     kPaddingShortJmpDefects, EntryRedirect::kShortJumpBackward, false, false},
    {ProtocolKind::kInt3ThreeStep, "int3-3step", kX64Only,
     "int3 on the first byte, the tail, the first byte, each followed by a sync of all threads", kInt3Defects,
     EntryRedirect::kBranch, false, false},
    {ProtocolKind::kBDirect, "b-direct", kArm64Only, "one aligned B to the replacement, cache maintenance, sync",
     kBDirectDefects, EntryRedirect::kBranch, true, false},
    {ProtocolKind::kVeneer, "veneer", kArm64Only,
     "ldr x16/br x16 veneer in the padding or the hotpatch area, then B veneer at the entry", kVeneerDefects,
     EntryRedirect::kBranch, false, false},
    {ProtocolKind::kLiteralSwap, "literal-swap", kArm64Only,
     "B to an indirection through a 64-bit literal; the patch is one data store into it", kLiteralSwapDefects,
     EntryRedirect::kBranch, false, false},
    {ProtocolKind::kStopTheWorld, "stop-the-world", kBoth,
     "suspend every thread, move PCs out of the span into a trampoline, store, resume", kStopTheWorldDefects,
     EntryRedirect::kBranch, false, true, true},
};

struct DefectName {
  ProtocolDefect defect;
  std::string_view name;
};

constexpr DefectName kDefectNames[] = {
    {D::kNoRelease, "no-release"},
    {D::kStubClobbersRcx, "stub-clobbers-rcx"},
    {D::kNoShortJmp, "no-short-jmp"},
    {D::kNoSync, "no-sync"},
    {D::kResumeInside, "resume-inside"},
    {D::kNoMovePc, "no-move-pc"},
    {D::kWrongRipFixup, "wrong-rip-fixup"},
    {D::kBranchBeforeVeneer, "branch-before-veneer"},
    {D::kNoVeneerMaintenance, "no-veneer-maintenance"},
    {D::kVeneerClobbersX0, "veneer-clobbers-x0"},
    {D::kLiteralInHalves, "literal-in-halves"},
};

std::string joined(const auto& items, std::string_view separator, auto nameOf) {
  std::string out;
  for (const auto& item : items) out += fmt::format("{}{}", out.empty() ? "" : separator, nameOf(item));
  return out;
}

}  // namespace

std::span<const ProtocolInfo> protocolRegistry() { return kProtocols; }

const ProtocolInfo& protocolInfo(ProtocolKind kind) {
  return *std::find_if(std::begin(kProtocols), std::end(kProtocols),
                       [&](const ProtocolInfo& p) { return p.kind == kind; });
}

std::string_view protocolName(ProtocolKind kind) { return protocolInfo(kind).name; }

bool protocolRunsOn(ProtocolKind kind, ArchKind arch) {
  const auto arches = protocolInfo(kind).arches;
  return std::find(arches.begin(), arches.end(), arch) != arches.end();
}

std::vector<ProtocolKind> protocolsFor(ArchKind arch) {
  std::vector<ProtocolKind> out;
  for (const ProtocolInfo& p : kProtocols)
    if (protocolRunsOn(p.kind, arch)) out.push_back(p.kind);
  return out;
}

ProtocolKind defaultRedirectProtocol(ArchKind arch) {
  for (const ProtocolInfo& p : kProtocols)
    if (p.defaultRedirect && protocolRunsOn(p.kind, arch)) return p.kind;
  return protocolsFor(arch).front();
}

std::optional<ProtocolKind> parseProtocol(std::string_view name, ArchKind arch) {
  for (const ProtocolInfo& p : kProtocols)
    if (p.name == name && protocolRunsOn(p.kind, arch)) return p.kind;
  return std::nullopt;
}

std::string protocolNames(ArchKind arch, std::string_view separator) {
  return joined(protocolsFor(arch), separator, protocolName);
}

std::string notAProtocolOf(std::string_view name, ArchKind arch) {
  return fmt::format("protocol '{}' is not one of {} ({})", name, archOf(arch).name(), protocolNames(arch));
}

std::string_view defectName(ProtocolDefect defect) {
  for (const DefectName& d : kDefectNames)
    if (d.defect == defect) return d.name;
  return "";
}

bool protocolHasDefect(ProtocolKind protocol, ProtocolDefect defect) {
  const auto defects = protocolInfo(protocol).defects;
  return std::find(defects.begin(), defects.end(), defect) != defects.end();
}

std::optional<ProtocolDefect> parseDefect(std::string_view name, ProtocolKind protocol) {
  for (ProtocolDefect d : protocolInfo(protocol).defects)
    if (defectName(d) == name) return d;
  return std::nullopt;
}

std::string notADefectOf(std::string_view name, ProtocolKind protocol) {
  const auto defects = protocolInfo(protocol).defects;
  return fmt::format("defect '{}' is not one of {}'s ({})", name, protocolName(protocol),
                     defects.empty() ? std::string("none") : joined(defects, ", ", defectName));
}

}  // namespace hph
