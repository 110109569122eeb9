// libFuzzer target, differential: a function's first bytes (the first input byte picks
// x64 or Arm64) relocated into a trampoline. A trampoline the
// relocator builds must behave as the code it displaces (patch/TrampolineCheck: random
// machine states, the original against the trampoline); one that does not is a crash.
// Refusals are fine: a relocator may refuse what it cannot relocate exactly.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "emu/core/Arch.h"
#include "patch/Trampoline.h"
#include "patch/TrampolineCheck.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool arm64 = data[0] & 1;
  const hph::Relocator& relocator = arm64 ? hph::arm64Relocator() : hph::x64Relocator();
  hph::TrampolineRequest request;
  request.functionAddress = 0x140001000;
  request.function.assign(data + 1, data + size);
  if (arm64) request.function.resize(request.function.size() & ~size_t{3});
  if (request.function.size() < 4) return 0;
  request.patchBytes = arm64 ? 4 : 5;  // a B, a jmp rel32: the redirect written at the entry
  request.trampolineAddress = 0x140100000;
  request.btiGuarded = relocator.arch().branchTargetsEnforced(request.function);
  request.callsReturnIntoTrampoline = (data[0] >> 1) & 1;
  const hph::Relocation relocation = relocator.relocate(request);
  if (!relocation.trampoline) return 0;
  const std::vector<uint8_t> redirect = relocator.redirect(request.functionAddress, request.trampolineAddress);
  if (redirect.size() != request.patchBytes) return 0;
  auto check = hph::checkTrampoline(relocator.arch(), request, *relocation.trampoline, redirect, 8);
  if (check && !check->equivalent) {
    std::fprintf(stderr, "%s trampoline not equivalent to the displaced code: %s\n", arm64 ? "arm64" : "x64",
                 check->difference.c_str());
    std::abort();
  }
  return 0;
}
