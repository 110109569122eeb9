#include "emu/hybrid/Arm64xRoutines.h"

namespace hph::hybrid {

std::string_view routineName(Arm64xRoutine routine) {
  switch (routine) {
  case Arm64xRoutine::kDispatchCallNoRedirect: return "__os_arm64x_dispatch_call_no_redirect";
  case Arm64xRoutine::kDispatchRet: return "__os_arm64x_dispatch_ret";
  case Arm64xRoutine::kDispatchCall: return "__os_arm64x_dispatch_call";
  case Arm64xRoutine::kDispatchIcall: return "__os_arm64x_dispatch_icall";
  case Arm64xRoutine::kDispatchIcallCfg: return "__os_arm64x_dispatch_icall_cfg";
  case Arm64xRoutine::kDispatchFptr: return "__os_arm64x_dispatch_fptr";
  case Arm64xRoutine::kGetX64Information: return "__os_arm64x_get_x64_information";
  case Arm64xRoutine::kSetX64Information: return "__os_arm64x_set_x64_information";
  }
  return "?";
}

std::optional<Arm64xRoutine> routineAt(uint64_t address) {
  if (address < kRoutinePage || (address - kRoutinePage) % kRoutineStride) return std::nullopt;
  const uint64_t index = (address - kRoutinePage) / kRoutineStride;
  if (index >= kArm64xRoutines) return std::nullopt;
  return static_cast<Arm64xRoutine>(index);
}

uint32_t slotRva(const ChpeDispatchSlots& slots, Arm64xRoutine routine) {
  switch (routine) {
  case Arm64xRoutine::kDispatchCallNoRedirect: return slots.callNoRedirect;
  case Arm64xRoutine::kDispatchRet: return slots.ret;
  case Arm64xRoutine::kDispatchCall: return slots.call;
  case Arm64xRoutine::kDispatchIcall: return slots.icall;
  case Arm64xRoutine::kDispatchIcallCfg: return slots.icallCfg;
  case Arm64xRoutine::kDispatchFptr: return slots.fptr;
  case Arm64xRoutine::kGetX64Information: return slots.getX64Information;
  case Arm64xRoutine::kSetX64Information: return slots.setX64Information;
  }
  return 0;
}

}  // namespace hph::hybrid
