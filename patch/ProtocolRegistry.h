// The patch protocols and their deliberate defects: the one table of each, and the only
// place their names are written. A scenario's [protocol] and `hph trampoline --protocol`
// are parsed against it where they are read; everything inside uses the enums. Help
// texts and messages list the names from here.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emu/core/Arch.h"

namespace hph {

enum class ProtocolKind {
  kNaiveJmp5,
  kPaddingShortJmp,
  kInt3ThreeStep,
  kBDirect,
  kVeneer,
  kLiteralSwap,
  kStopTheWorld,  // both architectures
};

// A deliberately broken variant of a protocol, for canaries and for showing that each
// checker fires (docs/properties.md).
enum class ProtocolDefect {
  kNone,
  kNoRelease,
  kStubClobbersRcx,
  kNoShortJmp,
  kNoSync,
  kResumeInside,
  kNoMovePc,
  kWrongRipFixup,
  kBranchBeforeVeneer,
  kNoVeneerMaintenance,
  kVeneerClobbersX0,
  kLiteralInHalves,
};

// What a protocol writes at the entry to reach a trampoline (`hph trampoline`): it
// decides how many entry bytes the trampoline displaces.
enum class EntryRedirect {
  kBranch,             // the relocator's jump or branch, the shortest that reaches
  kShortJumpBackward,  // `eb f9` into the padding, where the 5-byte jump sits
};

struct ProtocolInfo {
  ProtocolKind kind;
  std::string_view name;
  std::span<const ArchKind> arches;
  std::string_view summary;  // one line, for help texts
  std::span<const ProtocolDefect> defects;
  EntryRedirect redirect;
  bool defaultRedirect;  // `hph trampoline`'s redirect on its architecture without --protocol
  // Its plan runs displaced instructions from a trampoline (threads stopped in the span
  // move there): `hph gate` checks that trampoline for every function it patches.
  bool needsTrampoline;
  // x64: a call that is not the last displaced instruction stays a call, returning into
  // the trampoline (TrampolineRequest::callsReturnIntoTrampoline): its plan moves threads
  // that return into the span.
  bool callsReturnIntoTrampoline = false;
};

// Every protocol, x64's first; protocolsFor keeps this order.
std::span<const ProtocolInfo> protocolRegistry();
const ProtocolInfo& protocolInfo(ProtocolKind kind);
std::string_view protocolName(ProtocolKind kind);
bool protocolRunsOn(ProtocolKind kind, ArchKind arch);
std::vector<ProtocolKind> protocolsFor(ArchKind arch);
ProtocolKind defaultRedirectProtocol(ArchKind arch);

// nullopt: no protocol of `arch` has this name.
std::optional<ProtocolKind> parseProtocol(std::string_view name, ArchKind arch);
// "naive-jmp5, padding-short-jmp, int3-3step, stop-the-world"
std::string protocolNames(ArchKind arch, std::string_view separator = ", ");
// "protocol 'x' is not one of arm64 (b-direct, veneer, literal-swap, stop-the-world)"
std::string notAProtocolOf(std::string_view name, ArchKind arch);

std::string_view defectName(ProtocolDefect defect);
// nullopt: `protocol` has no defect of this name.
std::optional<ProtocolDefect> parseDefect(std::string_view name, ProtocolKind protocol);
bool protocolHasDefect(ProtocolKind protocol, ProtocolDefect defect);
// "defect 'x' is not one of veneer's (branch-before-veneer, ...)"; "(none)" for none.
std::string notADefectOf(std::string_view name, ProtocolKind protocol);

}  // namespace hph
