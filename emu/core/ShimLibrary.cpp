#include "emu/core/ShimLibrary.h"

#include <algorithm>
#include <cctype>

#include "emu/core/Machine.h"

namespace hph {
namespace {

// Time is virtual: derived from the instructions executed, so runs stay deterministic.
constexpr uint64_t kInstructionsPerMillisecond = 1'000'000;

uint64_t getCurrentThreadId(ShimCall& call) { return call.machine.currentThreadId(); }
uint64_t getCurrentProcessId(ShimCall&) { return Machine::kProcessId; }
uint64_t getTickCount64(ShimCall& call) {
  return call.machine.instructionsRetired() / kInstructionsPerMillisecond;
}
uint64_t getTickCount(ShimCall& call) { return getTickCount64(call) & 0xFFFFFFFFu; }
uint64_t queryPerformanceCounter(ShimCall& call) {
  const uint64_t ticks = call.machine.instructionsRetired();
  return call.machine.writeGuest(call.argument(0), {reinterpret_cast<const uint8_t*>(&ticks), 8})
             ? 1 : 0;
}
uint64_t queryPerformanceFrequency(ShimCall& call) {
  const uint64_t frequency = kInstructionsPerMillisecond * 1000;
  return call.machine.writeGuest(call.argument(0),
                                 {reinterpret_cast<const uint8_t*>(&frequency), 8}) ? 1 : 0;
}
uint64_t returnZero(ShimCall&) { return 0; }
uint64_t getLastError(ShimCall& call) { return call.machine.lastError(); }
uint64_t setLastError(ShimCall& call) {
  call.machine.setLastError(static_cast<uint32_t>(call.argument(0)));
  return 0;
}

constexpr ShimFunction kShims[] = {
    {"kernel32.dll", "GetCurrentThreadId", getCurrentThreadId, "the running guest thread's id"},
    {"kernel32.dll", "GetCurrentProcessId", getCurrentProcessId, "a fixed process id"},
    {"kernel32.dll", "GetTickCount64", getTickCount64,
     "virtual milliseconds: instructions retired / 1,000,000"},
    {"kernel32.dll", "GetTickCount", getTickCount, "GetTickCount64 truncated to 32 bits"},
    {"kernel32.dll", "QueryPerformanceCounter", queryPerformanceCounter,
     "writes instructions retired; returns 1"},
    {"kernel32.dll", "QueryPerformanceFrequency", queryPerformanceFrequency,
     "writes 1e9 (one tick per instruction); returns 1"},
    {"kernel32.dll", "Sleep", returnZero, "returns at once"},
    {"kernel32.dll", "SwitchToThread", returnZero, "returns 0 (nothing else to run)"},
    {"kernel32.dll", "IsProcessorFeaturePresent", returnZero, "returns 0 (feature absent)"},
    {"kernel32.dll", "GetLastError", getLastError, "the machine's last-error value"},
    {"kernel32.dll", "SetLastError", setLastError, "sets the machine's last-error value"},
};

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

uint64_t ShimCall::argument(size_t index) const {
  return machine.arch().argument(machine.engine(), index);
}

std::span<const ShimFunction> shimFunctions() { return kShims; }

const ShimFunction* findShim(std::string_view dll, std::string_view name) {
  for (const ShimFunction& shim : kShims)
    if (equalsIgnoreCase(shim.dll, dll) && shim.name == name) return &shim;
  return nullptr;
}

}  // namespace hph
