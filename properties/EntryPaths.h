// The ways a call can enter a hybrid image's Arm64EC function (H1): every one of them
// must reach a patched function's replacement, whichever of its two entries the patch
// redirects. Each path is named by what makes it a path: who calls (x64 or Arm64EC code),
// where the call goes, and which of the emulator's rules decides it; where the image's own
// code takes a path, its callers are named too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emu/hybrid/HybridProcess.h"
#include "emu/pe/PeImage.h"

namespace hph {

enum class EntryPathKind : uint8_t {
  kX64ThroughExport,  // x64 code calls the export (its x64 entry), directly or through a pointer
  kRedirected,        // x64 code calls the export and the emulator takes the redirection metadata
  kEcDirect,          // Arm64EC code calls the function (a hybrid-patchable one through dispatch_call)
  kX64DirectToBody,   // x64 code the linker resolved to the Arm64EC body (past the x64 entry)
  kEcIndirect,        // Arm64EC code calls the export's address through check_icall
  kEcIndirectToBody,  // Arm64EC code takes the function's own (body) address and calls it so
  kDeclaredCaller,    // an export the scenario says calls the function ([[functions]].callers)
};

// An export named in a scenario, at its address (the x64 entry its export points at).
struct NamedEntry {
  std::string name;
  uint64_t entry = 0;
};

struct EntryPath {
  EntryPathKind kind = EntryPathKind::kX64ThroughExport;
  std::string name;                 // "Arm64EC direct call", "declared caller sum_squares"
  std::string callers;              // the image's code that takes it: "scaled+0x10, apply_add+0x8" ("" if none found)
  uint64_t x64Entry = 0, body = 0;  // the function's entries (absolute)
  bool hybridPatchable = false;     // Arm64EC callers go through dispatch_call
  uint64_t callerEntry = 0;         // kDeclaredCaller: the caller's export
};

// A function's entry paths in `image` loaded at `base`. The direct paths are listed only
// when some code of the image takes them (x64 code calling the body directly exists only
// where the linker resolved a call so), except the Arm64EC direct call, which any Arm64EC
// module may make.
std::vector<EntryPath> entryPaths(const PeImage& image, uint64_t base, const HybridFunction& function);

// Where the path's call lands now (the routines decide by what memory holds: a patched
// x64 entry is no longer a fast-forward sequence).
hybrid::Landing landingOf(const EntryPath& path, const hybrid::HybridProcess& process);

}  // namespace hph
