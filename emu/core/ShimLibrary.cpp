#include "emu/core/ShimLibrary.h"

#include <algorithm>
#include <cctype>

#include "emu/core/Machine.h"

namespace hph {
namespace {

// Time is virtual: it advances by one tick per shim call (the same whether or not the
// machine counts instructions), so runs stay deterministic.
constexpr uint64_t kTicksPerSecond = 1000;
constexpr uint64_t kWaitObject0 = 0;
constexpr uint64_t kWaitTimeout = 0x102;
constexpr uint64_t kWaitFailed = 0xFFFFFFFF;
constexpr uint64_t kErrorInvalidHandle = 6;
constexpr uint64_t kErrorNotEnoughMemory = 8;

ShimResult value(uint64_t v) { return {v, false}; }

bool writeU64(ShimCall& call, uint64_t address, uint64_t v) {
  return call.machine.writeGuest(address, {reinterpret_cast<const uint8_t*>(&v), 8});
}
bool writeU32(ShimCall& call, uint64_t address, uint32_t v) {
  return call.machine.writeGuest(address, {reinterpret_cast<const uint8_t*>(&v), 4});
}

ShimResult getCurrentThreadId(ShimCall& call) { return value(call.machine.currentThreadId()); }
ShimResult getCurrentProcessId(ShimCall&) { return value(Machine::kProcessId); }
ShimResult getTickCount64(ShimCall& call) { return value(call.machine.virtualClock()); }
ShimResult getTickCount(ShimCall& call) { return value(getTickCount64(call).value & 0xFFFFFFFFu); }
ShimResult queryPerformanceCounter(ShimCall& call) {
  return value(writeU64(call, call.argument(0), call.machine.virtualClock()) ? 1 : 0);
}
ShimResult queryPerformanceFrequency(ShimCall& call) {
  return value(writeU64(call, call.argument(0), kTicksPerSecond) ? 1 : 0);
}
ShimResult returnZero(ShimCall&) { return value(0); }
ShimResult returnOne(ShimCall&) { return value(1); }
ShimResult getLastError(ShimCall& call) { return value(call.machine.lastError()); }
ShimResult setLastError(ShimCall& call) {
  call.machine.setLastError(static_cast<uint32_t>(call.argument(0)));
  return value(0);
}

ShimResult createThread(ShimCall& call) {
  ThreadServices* threads = call.machine.threadServices();
  uint64_t id = 0;
  auto handle = threads ? threads->createThread(call.argument(2), call.argument(3), &id) : std::nullopt;
  if (!handle) {
    call.machine.setLastError(kErrorNotEnoughMemory);
    return value(0);
  }
  if (const uint64_t idOut = call.argument(5)) writeU32(call, idOut, static_cast<uint32_t>(id));
  return value(*handle);
}

ShimResult waitForSingleObject(ShimCall& call) {
  ThreadServices* threads = call.machine.threadServices();
  if (!threads) {
    call.machine.setLastError(kErrorInvalidHandle);
    return value(kWaitFailed);
  }
  const bool mayBlock = static_cast<uint32_t>(call.argument(1)) != 0;
  switch (threads->wait(call.argument(0), mayBlock)) {
  case ThreadServices::WaitResult::kSignaled: return value(kWaitObject0);
  case ThreadServices::WaitResult::kTimeout: return value(kWaitTimeout);
  case ThreadServices::WaitResult::kWouldBlock: return {0, true};
  case ThreadServices::WaitResult::kInvalidHandle: break;
  }
  call.machine.setLastError(kErrorInvalidHandle);
  return value(kWaitFailed);
}

ShimResult getExitCodeThread(ShimCall& call) {
  ThreadServices* threads = call.machine.threadServices();
  auto code = threads ? threads->exitCode(call.argument(0)) : std::nullopt;
  if (!code) {
    call.machine.setLastError(kErrorInvalidHandle);
    return value(0);
  }
  return value(writeU32(call, call.argument(1), static_cast<uint32_t>(*code)) ? 1 : 0);
}

constexpr ShimFunction kShims[] = {
    {"kernel32.dll", "GetCurrentThreadId", getCurrentThreadId, "the running guest thread's id"},
    {"kernel32.dll", "GetCurrentProcessId", getCurrentProcessId, "a fixed process id (0x1000)"},
    {"kernel32.dll", "GetTickCount64", getTickCount64, "virtual milliseconds: one per shim call so far"},
    {"kernel32.dll", "GetTickCount", getTickCount, "GetTickCount64 truncated to 32 bits"},
    {"kernel32.dll", "QueryPerformanceCounter", queryPerformanceCounter,
     "writes the virtual clock (shim calls so far) to *arg0; returns 1"},
    {"kernel32.dll", "QueryPerformanceFrequency", queryPerformanceFrequency, "writes 1000 to *arg0; returns 1"},
    {"kernel32.dll", "Sleep", returnZero, "returns at once"},
    {"kernel32.dll", "SwitchToThread", returnZero, "returns 0"},
    {"kernel32.dll", "IsProcessorFeaturePresent", returnZero, "returns 0 (feature absent)"},
    {"kernel32.dll", "GetLastError", getLastError, "the machine's last-error value"},
    {"kernel32.dll", "SetLastError", setLastError, "sets the machine's last-error value"},
    {"kernel32.dll", "CreateThread", createThread,
     "a new guest thread at arg2(arg3); writes its id to *arg5; returns a handle"},
    {"kernel32.dll", "WaitForSingleObject", waitForSingleObject,
     "thread handles: blocks until the thread exits (0), 0x102 on a zero timeout"},
    {"kernel32.dll", "GetExitCodeThread", getExitCodeThread,
     "writes the exit code (259 while running) to *arg1; returns 1"},
    {"kernel32.dll", "CloseHandle", returnOne, "returns 1"},
};

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

uint64_t ShimCall::argument(size_t index) const { return machine.arch().argument(machine.engine(), index); }

std::span<const ShimFunction> shimFunctions() { return kShims; }

const ShimFunction* findShim(std::string_view dll, std::string_view name) {
  for (const ShimFunction& shim : kShims)
    if (equalsIgnoreCase(shim.dll, dll) && shim.name == name) return &shim;
  return nullptr;
}

}  // namespace hph
