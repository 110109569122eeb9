// The __os_arm64x_* routines: Arm64EC code calls them through the dispatch slots of its
// image's CHPE metadata wherever control may cross to x64 code (exit thunks, indirect
// calls, hybrid-patchable calls) or back (entry thunks return through dispatch_ret).
// Windows' loader fills the slots with its emulator's routines; hph fills them with
// addresses on a page neither engine may execute, so a call to one stops the Arm64 engine
// there and the hybrid process does what the routine does (HybridProcess).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "emu/pe/PeImage.h"

namespace hph::hybrid {

enum class Arm64xRoutine : uint8_t {
  kDispatchCallNoRedirect,  // run x64 code at x9, returning to x30 (exit thunks)
  kDispatchRet,             // return to the x64 caller of an entry thunk
  kDispatchCall,            // check_call: a hybrid-patchable callee, unpatched or not
  kDispatchIcall,           // check_icall: an indirect call's target, Arm64EC or x64
  kDispatchIcallCfg,
  kDispatchFptr,
  kGetX64Information,
  kSetX64Information,
};
inline constexpr size_t kArm64xRoutines = 8;

// A page above the shims and below the return sentinel (Machine's fixed places).
inline constexpr uint64_t kRoutinePage = 0x7FFE'8000'0000;
inline constexpr uint64_t kRoutineStride = 16;
// The page after it holds an x64 `ret` (HybridProcess::enterArm64).
inline constexpr uint64_t kX64ReturnStub = kRoutinePage + 0x1000;

std::string_view routineName(Arm64xRoutine routine);
inline uint64_t routineAddress(Arm64xRoutine routine) {
  return kRoutinePage + kRoutineStride * static_cast<uint64_t>(routine);
}
std::optional<Arm64xRoutine> routineAt(uint64_t address);
// The RVA of the routine's slot in the image (0: the metadata names none).
uint32_t slotRva(const ChpeDispatchSlots& slots, Arm64xRoutine routine);

}  // namespace hph::hybrid
