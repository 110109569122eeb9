#include "properties/EntryPaths.h"

#include <fmt/format.h>

#include "emu/core/Arch.h"
#include "emu/pe/ChpeMetadata.h"

namespace hph {
namespace {

using hybrid::Caller;
using hybrid::Landing;

// "scaled+0x10": the Arm64EC function or x64 function holding `rva`.
std::string placeOf(const PeImage& image, uint32_t rva) {
  for (const HybridFunction& f : image.chpe->functions)
    if (rva >= f.body && rva < f.bodyEnd) return fmt::format("{}+0x{:x}", f.name, rva - f.body);
  if (const FunctionInfo* f = image.functionContaining(rva)) return fmt::format("{}+0x{:x}", f->name, rva - f->begin);
  return fmt::format("rva 0x{:x}", rva);
}

// The places in code of `kind` that call `target` directly (BL / CALL rel32), as placeOf
// names them. Arm64 code is read word by word (pe::directCallsByArm64Code); x64 code
// function by function (.pdata), instruction by instruction.
std::string directCallers(const PeImage& image, uint32_t target, ChpeRange::Kind kind) {
  std::string out;
  const auto add = [&](uint32_t rva) { out += (out.empty() ? "" : ", ") + placeOf(image, rva); };
  if (kind != ChpeRange::Kind::kAmd64) {
    for (const auto& [place, called] : pe::directCallsByArm64Code(image, *image.chpe))
      if (called == target) add(place);
    return out;
  }
  const Arch& x64 = archOf(ArchKind::kX64);
  for (const ChpeRange& range : image.chpe->codeMap) {
    if (range.kind != ChpeRange::Kind::kAmd64) continue;
    // Each function's bytes are read on their own, as far as its section holds them.
    for (const FunctionInfo& f : image.functions) {
      if (f.begin < range.begin || f.end > range.begin + range.length) continue;
      const std::vector<uint8_t> bytes = image.bytesAt(f.begin, f.end - f.begin);
      for (uint32_t at = f.begin; at - f.begin < bytes.size();) {
        const size_t offset = at - f.begin;
        const DecodedInstruction d =
            x64.decode({bytes.data() + offset, std::min<size_t>(15, bytes.size() - offset)}, at);
        if (!d.valid || d.length == 0) break;
        if (d.flow == Flow::kCall && d.target == target) add(at);
        at += d.length;
      }
    }
  }
  return out;
}

}  // namespace

std::vector<EntryPath> entryPaths(const PeImage& image, uint64_t base, const HybridFunction& f) {
  std::vector<EntryPath> paths;
  const uint64_t x64Entry = base + f.fastForward, body = base + f.body;
  const auto path = [&](EntryPathKind kind, std::string name, std::string callers) {
    paths.push_back({kind, std::move(name), std::move(callers), x64Entry, body, f.hybridPatchable});
  };
  path(EntryPathKind::kX64ThroughExport, "x64 call through the export", "");
  for (const ChpeRedirection& r : image.chpe->redirections)
    if (r.source == f.fastForward && r.destination == f.body)
      path(EntryPathKind::kRedirected, "x64 call through the export, redirected by the CHPE redirection metadata", "");
  // lld resolves Arm64EC calls to a hybrid-patchable function to its hybpatch thunk, whose
  // dispatch_call goes to the x64 entry once that is patched; other calls go to the body.
  path(EntryPathKind::kEcDirect,
       f.hybridPatchable ? "Arm64EC direct call (through its hybpatch thunk and dispatch_call)" : "Arm64EC direct call",
       directCallers(image, f.body, ChpeRange::Kind::kArm64ec));
  if (std::string callers = directCallers(image, f.body, ChpeRange::Kind::kAmd64); !callers.empty())
    path(EntryPathKind::kX64DirectToBody, "x64 direct call to the Arm64EC body", std::move(callers));
  path(EntryPathKind::kEcIndirect, "Arm64EC indirect call through check_icall (the export's address)", "");
  // Code taking the body's address, except a hybpatch thunk: it computes the x64 entry and
  // the body side by side for dispatch_call (the direct path above).
  const auto computed = pe::addressesComputedByArm64Code(image, *image.chpe);
  const auto nearX64Entry = [&](uint32_t place) {
    for (const auto& [other, address] : computed)
      if (address == f.fastForward && other + 32 >= place && place + 32 >= other) return true;
    return false;
  };
  std::string takers;
  for (const auto& [place, address] : computed)
    if (address == f.body && !nearX64Entry(place)) takers += (takers.empty() ? "" : ", ") + placeOf(image, place);
  if (!takers.empty())
    path(EntryPathKind::kEcIndirectToBody, "Arm64EC indirect call through check_icall (the body's address)",
         std::move(takers));
  return paths;
}

Landing landingOf(const EntryPath& path, const hybrid::HybridProcess& process) {
  switch (path.kind) {
  case EntryPathKind::kX64ThroughExport: return {Caller::kX64, path.x64Entry};
  // Like the fast-forward shortcut, taken only while the x64 entry is unmodified: a patched
  // entry is x64 code of its own (docs/design.md, Hybrid processes).
  case EntryPathKind::kRedirected:
    return process.fastForwardsTo(path.x64Entry, path.body) ? Landing{Caller::kX64, path.body}
                                                            : Landing{Caller::kX64, path.x64Entry};
  case EntryPathKind::kEcDirect:
    return path.hybridPatchable ? process.dispatchCallLanding(path.x64Entry, path.body)
                                : Landing{Caller::kArm64ec, path.body};
  case EntryPathKind::kX64DirectToBody: return {Caller::kX64, path.body};
  case EntryPathKind::kEcIndirect: return process.icallLanding(path.x64Entry);
  case EntryPathKind::kEcIndirectToBody: return process.icallLanding(path.body);
  case EntryPathKind::kDeclaredCaller: return {Caller::kX64, path.callerEntry};
  }
  return {};
}

}  // namespace hph
