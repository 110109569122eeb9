#include "harness/TrampolineCommand.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "emu/pe/PeImage.h"
#include "harness/Diagnostics.h"
#include "harness/explore/JobLimit.h"
#include "patch/Redirect.h"
#include "patch/TrampolineCheck.h"
#include "patch/TrampolinePlacement.h"
#include "support/EchoText.h"
#include "support/HexText.h"
#include "support/NumberText.h"

namespace hph {
namespace {

using nlohmann::json;

constexpr uint64_t kDefaultHexAddress = 0x140001000;
// Trampolines go past the image end (as Windows puts its hotpatch address table there),
// or 1 MiB after a --hex function: within reach of rel32 and of B. From there each takes
// the first slot clear of what its displaced instructions reference (TrampolinePlacement).
constexpr uint64_t kHexTrampolineDistance = 0x100000;
constexpr uint64_t kTrampolineSlot = 0x400;
constexpr uint64_t kTrampolineAlignment = 16;

// Where the checker can place a function and its trampoline: above the first 64 KiB
// (random pointer registers reach 32 KiB below the function) and below the checker's own
// stack (0x7f0000000000), far from the top of the address space, where Unicorn asserts
// (arm64) or runs for minutes (x64) and the trampoline address would wrap past 2^64.
constexpr uint64_t kLowestPlaceable = 0x10000;
constexpr uint64_t kPlaceableEnd = 0x7F0000000000;

std::string placementProblem(uint64_t address, size_t size, uint64_t trampolineAddress) {
  const uint64_t end = trampolineAddress + kTrampolineSlot;
  if (address < kLowestPlaceable || trampolineAddress < address || end < trampolineAddress || end > kPlaceableEnd ||
      address + size > kPlaceableEnd)
    return fmt::format("cannot place the function at 0x{:x} and its trampoline at 0x{:x} for the check: both must "
                       "lie in 0x{:x}..0x{:x}",
                       address, trampolineAddress, kLowestPlaceable, kPlaceableEnd);
  return "";
}

struct FunctionInput {
  std::string name;
  uint64_t address = 0;
  std::vector<uint8_t> bytes;
};

struct Placed {
  uint64_t trampolineAddress = 0;
  RedirectChoice redirect;
  std::string refusal;  // no place clear of the references
};

// The first slot at or after `preferred` that overlaps neither the function nor anything
// its displaced instructions reference. Which instructions are displaced depends on the
// redirect, and the redirect on where the trampoline is (rel32 or jmp [rip]; B or a
// literal): repeat until the place and the redirect agree.
Placed place(const Relocator& relocator, const FunctionInput& f, uint64_t preferred, ProtocolKind protocol) {
  Placed placed;
  placed.trampolineAddress = preferred;
  for (int round = 0; round < 4; ++round) {
    // The protocol is one of the relocator's architecture (parsed in runTrampoline).
    placed.redirect = *redirectFor(relocator, protocol, f.address, placed.trampolineAddress);
    TrampolineRequest request;
    request.functionAddress = f.address;
    request.function = f.bytes;
    request.patchBytes = placed.redirect.patchBytes;
    const std::vector<AddressRange> avoid = addressesToAvoid(relocator, request);
    const auto at = firstFreePlace(preferred, kTrampolineSlot, kTrampolineAlignment, avoid, kPlaceableEnd);
    if (!at) {
      placed.refusal = fmt::format("no room below 0x{:x} for a trampoline clear of the function and of what its "
                                   "displaced instructions reference",
                                   kPlaceableEnd);
      return placed;
    }
    if (*at == placed.trampolineAddress) return placed;
    placed.trampolineAddress = *at;
  }
  placed.refusal = "no trampoline place agrees with its redirect: each moves the other";
  return placed;
}

json refusedBeforeRelocation(const FunctionInput& f, const std::string& why) {
  return json{{"function", f.name}, {"address", f.address},  {"verdict", "refused"},     {"reason", why},
              {"patch", nullptr},   {"trampoline", nullptr}, {"resume_address", nullptr}};
}

// One function: place, relocate, check, describe. `mismatch` is set when the check failed;
// `next` is where the following function's trampoline may start.
Result<json> processFunction(const Relocator& relocator, const FunctionInput& f, uint64_t preferred,
                             const TrampolineOptions& options, ProtocolKind protocol, bool* mismatch, uint64_t* next) {
  const Arch& arch = relocator.arch();
  *next = preferred + kTrampolineSlot;
  if (const std::string problem = placementProblem(f.address, f.bytes.size(), preferred); !problem.empty())
    return refusedBeforeRelocation(f, problem);
  const Placed placed = place(relocator, f, preferred, protocol);
  if (!placed.refusal.empty()) return refusedBeforeRelocation(f, placed.refusal);
  const uint64_t trampolineAddress = placed.trampolineAddress;
  const RedirectChoice* redirect = &placed.redirect;
  *next = trampolineAddress + kTrampolineSlot;
  TrampolineRequest request;
  request.functionAddress = f.address;
  request.function = f.bytes;
  request.patchBytes = redirect->patchBytes;
  request.trampolineAddress = trampolineAddress;
  request.btiGuarded = arch.branchTargetsEnforced(f.bytes);
  // The trampoline the protocol's plan would write, not another one.
  request.callsReturnIntoTrampoline = protocolInfo(protocol).callsReturnIntoTrampoline;
  const Relocation relocation = relocator.relocate(request);
  json out = {{"function", f.name},
              {"address", f.address},
              {"patch", {{"address", f.address}, {"bytes", hexBytes(redirect->bytes, HexLayout::kPacked)}}}};
  if (!relocation.trampoline) {
    out["verdict"] = "refused";
    out["reason"] = relocation.refusal;
    out["trampoline"] = nullptr;
    out["resume_address"] = nullptr;
    return out;
  }
  const Trampoline& t = *relocation.trampoline;
  out["trampoline"] = {{"address", t.address}, {"bytes", hexBytes(t.bytes, HexLayout::kPacked)}};
  out["resume_address"] = t.resumeAddress;
  out["displaced_bytes"] = t.displacedBytes;
  auto check = checkTrampoline(arch, request, t, redirect->bytes, options.states);
  if (!check) return check.error();
  out["states_checked"] = check->states;
  out["states_skipped"] = check->skipped;
  if (check->equivalent) {
    out["verdict"] = "relocated";
    out["reason"] = "";
  } else {
    out["verdict"] = "mismatch";
    out["reason"] = check->difference;
    *mismatch = true;
  }
  return out;
}

void printText(const json& r) {
  fmt::print("{} @ {:#x}: {}", r["function"].get<std::string>(), r["address"].get<uint64_t>(),
             r["verdict"].get<std::string>());
  if (r["verdict"] == "refused") {
    fmt::print(": {}\n", r["reason"].get<std::string>());
    return;
  }
  fmt::print(" — patch {} | trampoline @ {:#x} {} | resume {:#x}", r["patch"]["bytes"].get<std::string>(),
             r["trampoline"]["address"].get<uint64_t>(), r["trampoline"]["bytes"].get<std::string>(),
             r["resume_address"].get<uint64_t>());
  if (r["verdict"] == "mismatch")
    fmt::print("\n  MISMATCH: {}", r["reason"].get<std::string>());
  else
    fmt::print(" | equivalent over {} states", r["states_checked"].get<uint32_t>());
  if (const uint32_t skipped = r["states_skipped"].get<uint32_t>(); skipped > 0)
    fmt::print(" ({} skipped: the original's registers led it to the patched bytes)", skipped);
  fmt::print("\n");
}

}  // namespace

int runTrampoline(const TrampolineOptions& options) {
  std::vector<FunctionInput> functions;
  const Arch* arch = nullptr;
  uint64_t trampolineBase = 0;
  if (options.image) {
    if (options.hex || options.arch)
      return reportError(badInput("--hex/--arch go without IMAGE (the image says its architecture)"));
    if (!options.all && !options.function) return reportError(badInput("IMAGE needs --function F or --all"));
    auto image = readPeImage(*options.image);
    if (!image) return reportError(image.error());
    arch = image->arch;
    trampolineBase = image->imageBase + ((image->sizeOfImage + 0xFFFF) & ~uint64_t{0xFFFF});
    for (const FunctionInfo& f : image->functions) {
      if (!options.all && f.name != *options.function) continue;
      functions.push_back({f.name, image->imageBase + f.begin, image->bytesAt(f.begin, f.end - f.begin)});
    }
    if (functions.empty())
      return reportError(
          badInput(fmt::format("{}: function '{}': no such function", *options.image, *options.function)));
  } else {
    if (!options.arch || !options.hex) return reportError(badInput("give IMAGE, or --arch and --hex"));
    arch = archByName(*options.arch);
    if (!arch) return reportError(badInput(fmt::format("--arch '{}': x64 or arm64", echoText(*options.arch))));
    // "48 83 ec 28", "0x4883ec28", split over lines: any white space, one leading 0x.
    auto bytes = parseHexBytes(*options.hex, {.ignored = " \t\n\v\f\r", .prefix = true});
    if (!bytes)
      return reportError(badInput(fmt::format("--hex '{}': not an even number of hex digits", echoText(*options.hex))));
    auto address = options.address ? parseUnsigned(*options.address) : std::optional<uint64_t>(kDefaultHexAddress);
    if (!address)
      return reportError(badInput(
          fmt::format("--address '{}': not an unsigned decimal or 0x-hex 64-bit integer", echoText(*options.address))));
    functions.push_back({"hex", *address, *bytes});
    // Saturating: near 2^64 the sum would wrap to a low address (refused above as unplaceable).
    trampolineBase = *address > UINT64_MAX - kHexTrampolineDistance ? UINT64_MAX - kTrampolineSlot
                                                                    : *address + kHexTrampolineDistance;
  }

  ProtocolKind protocol = defaultRedirectProtocol(arch->kind());
  // An empty --protocol is the default, as no --protocol is.
  if (options.protocol && !options.protocol->empty()) {
    const auto named = parseProtocol(*options.protocol, arch->kind());
    if (!named)
      return reportError(badInput(fmt::format("--protocol '{}': not one of {} for {}", echoText(*options.protocol),
                                              protocolNames(arch->kind()), arch->name())));
    protocol = *named;
  }

  // The differential check runs the original and the trampoline on an engine each.
  if (auto room = checkRoomForEngines(2); !room) return reportError(room.error());
  const Relocator& relocator = relocatorFor(*arch);
  bool mismatch = false;
  json results = json::array();
  uint64_t slot = trampolineBase;
  for (size_t i = 0; i < functions.size(); ++i) {
    auto result = processFunction(relocator, functions[i], slot, options, protocol, &mismatch, &slot);
    if (!result) return reportError(result.error());
    if (!options.json) printText(*result);
    results.push_back(std::move(*result));
  }
  if (options.json)
    fmt::print("{}\n",
               (options.all ? results : results[0]).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  else if (options.all) {
    size_t relocated = 0, refused = 0, mismatched = 0;
    for (const json& r : results) {
      if (r["verdict"] == "relocated")
        ++relocated;
      else if (r["verdict"] == "refused")
        ++refused;
      else
        ++mismatched;
    }
    fmt::print("{} functions: {} relocated, {} refused, {} mismatch\n", results.size(), relocated, refused, mismatched);
  }
  return mismatch ? kExitViolated : kExitHolds;
}

}  // namespace hph
