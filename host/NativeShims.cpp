#include "host/NativeShims.h"

#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "host/GuestThreads.h"
#include "host/MonotonicClock.h"
#include "host/ThreadArch.h"

namespace hph {
namespace {

// Time is real on the host (the emulator's is virtual): QueryPerformanceCounter counts
// nanoseconds, GetTickCount64 milliseconds, of CLOCK_MONOTONIC.
constexpr uint64_t kCounterFrequency = 1'000'000'000;
constexpr uint32_t kTebThreadId = 0x48;

// Each thread's last-error value, as on Windows (and as the emulator keeps it: not in the TEB).
thread_local uint32_t lastError = 0;
// The tests' broken shims (HPH_TEST_NATIVE_SHIMS): "wrong-last-error" forgets every
// SetLastError, "wait-returns-early" has WaitForSingleObject return before the thread
// ended, "missing" binds no import at all. The checks must see each.
bool forgetLastError = false;
bool waitReturnsEarly = false;

HPH_GUEST_ABI uint64_t getCurrentThreadId() {
  const thread_arch::TebKept kept;
  return thread_arch::tebWord(kTebThreadId);
}
HPH_GUEST_ABI uint64_t getCurrentProcessId() {
  const thread_arch::TebKept kept;
  return thread_arch::kProcessId;
}
HPH_GUEST_ABI uint64_t getTickCount64() {
  const thread_arch::TebKept kept;
  return monotonicNs() / 1'000'000;
}
HPH_GUEST_ABI uint64_t getTickCount() {
  const thread_arch::TebKept kept;
  return getTickCount64() & 0xFFFFFFFFu;
}
HPH_GUEST_ABI uint64_t queryPerformanceCounter(uint64_t* out) {
  const thread_arch::TebKept kept;
  if (!out) return 0;
  *out = monotonicNs();
  return 1;
}
HPH_GUEST_ABI uint64_t queryPerformanceFrequency(uint64_t* out) {
  const thread_arch::TebKept kept;
  if (!out) return 0;
  *out = kCounterFrequency;
  return 1;
}
HPH_GUEST_ABI uint64_t sleepFor(uint64_t ms) {
  const thread_arch::TebKept kept;
  const uint64_t ns = (ms & 0xFFFFFFFFu) * 1'000'000;
  const timespec pause{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  nanosleep(&pause, nullptr);
  return 0;
}
HPH_GUEST_ABI uint64_t switchToThread() {
  const thread_arch::TebKept kept;
  sched_yield();
  return 0;
}
HPH_GUEST_ABI uint64_t returnZero() {
  const thread_arch::TebKept kept;
  return 0;
}
HPH_GUEST_ABI uint64_t getLastError() {
  const thread_arch::TebKept kept;
  return forgetLastError ? 0 : lastError;
}
HPH_GUEST_ABI uint64_t setLastError(uint64_t value) {
  const thread_arch::TebKept kept;
  lastError = static_cast<uint32_t>(value);
  return 0;
}

// Thread services, on the runner's GuestThreads (spawned threads are suspended, moved
// and reported like the workers). Handles and ids as the emulator gives them: thread
// `index` has handle 0x1000 + 4 * index and id 0x100 + 4 * index.
constexpr uint64_t kFirstHandle = 0x1000;
constexpr uint64_t kWaitObject0 = 0, kWaitTimeout = 0x102, kWaitFailed = 0xFFFFFFFF;
constexpr uint64_t kStillActive = 259;
constexpr uint32_t kErrorInvalidHandle = 6, kErrorNotEnoughMemory = 8;
constexpr long kWaitPollNs = 50'000;
constexpr auto kStopGrace = std::chrono::seconds(5);

// The thread a handle names, if any.
std::optional<uint32_t> threadOf(uint64_t handle) {
  GuestThreads* threads = GuestThreads::active();
  if (!threads || handle < kFirstHandle || (handle - kFirstHandle) % 4 != 0) return std::nullopt;
  const uint64_t index = (handle - kFirstHandle) / 4;
  if (index >= threads->size()) return std::nullopt;
  return static_cast<uint32_t>(index);
}

HPH_GUEST_ABI uint64_t createThread(uint64_t, uint64_t, uint64_t start, uint64_t parameter, uint64_t,
                                    uint32_t* threadId) {
  const thread_arch::TebKept kept;
  GuestThreads* threads = GuestThreads::active();
  const auto index = threads ? threads->spawn(start, parameter) : std::nullopt;
  if (!index) {
    lastError = kErrorNotEnoughMemory;
    return 0;
  }
  if (threadId) *threadId = static_cast<uint32_t>(thread_arch::guestThreadId(*index));
  return kFirstHandle + 4 * uint64_t{*index};
}

// Any timeout but zero waits until the thread ended, as the emulator's shim does. When
// the runner stops, the waiting thread is finishing its last call: the thread it waits
// for still ends (and does its work), so the wait goes on, for at most kStopGrace (a
// guest deadlock must not keep the runner from joining its threads), then fails.
HPH_GUEST_ABI uint64_t waitForSingleObject(uint64_t handle, uint64_t milliseconds) {
  const thread_arch::TebKept kept;
  const auto index = threadOf(handle);
  if (!index) {
    lastError = kErrorInvalidHandle;
    return kWaitFailed;
  }
  GuestThreads& threads = *GuestThreads::active();
  std::optional<std::chrono::steady_clock::time_point> giveUp;
  while (!threads.ended(*index) && !waitReturnsEarly) {
    if ((milliseconds & 0xFFFFFFFFu) == 0) return kWaitTimeout;
    if (threads.stopping() && !giveUp) giveUp = std::chrono::steady_clock::now() + kStopGrace;
    if (giveUp && std::chrono::steady_clock::now() > *giveUp) return kWaitFailed;
    const timespec pause{0, kWaitPollNs};
    nanosleep(&pause, nullptr);
  }
  return kWaitObject0;
}

HPH_GUEST_ABI uint64_t getExitCodeThread(uint64_t handle, uint32_t* code) {
  const thread_arch::TebKept kept;
  const auto index = threadOf(handle);
  if (!index) {
    lastError = kErrorInvalidHandle;
    return 0;
  }
  if (!code) return 0;
  GuestThreads& threads = *GuestThreads::active();
  *code = static_cast<uint32_t>(threads.ended(*index) ? threads.exitCode(*index) : kStillActive);
  return 1;
}

// Returns 1 for any handle, as the emulator's; a thread's handle closed lets its slot be
// reused once it ended.
HPH_GUEST_ABI uint64_t closeHandle(uint64_t handle) {
  const thread_arch::TebKept kept;
  if (const auto index = threadOf(handle)) GuestThreads::active()->close(*index);
  return 1;
}

struct NativeShim {
  std::string_view dll;  // lower case
  std::string_view name;
  uint64_t address;
};

const NativeShim kShims[] = {
    {"kernel32.dll", "GetCurrentThreadId", reinterpret_cast<uint64_t>(&getCurrentThreadId)},
    {"kernel32.dll", "GetCurrentProcessId", reinterpret_cast<uint64_t>(&getCurrentProcessId)},
    {"kernel32.dll", "GetTickCount64", reinterpret_cast<uint64_t>(&getTickCount64)},
    {"kernel32.dll", "GetTickCount", reinterpret_cast<uint64_t>(&getTickCount)},
    {"kernel32.dll", "QueryPerformanceCounter", reinterpret_cast<uint64_t>(&queryPerformanceCounter)},
    {"kernel32.dll", "QueryPerformanceFrequency", reinterpret_cast<uint64_t>(&queryPerformanceFrequency)},
    {"kernel32.dll", "Sleep", reinterpret_cast<uint64_t>(&sleepFor)},
    {"kernel32.dll", "SwitchToThread", reinterpret_cast<uint64_t>(&switchToThread)},
    {"kernel32.dll", "IsProcessorFeaturePresent", reinterpret_cast<uint64_t>(&returnZero)},
    {"kernel32.dll", "GetLastError", reinterpret_cast<uint64_t>(&getLastError)},
    {"kernel32.dll", "SetLastError", reinterpret_cast<uint64_t>(&setLastError)},
    {"kernel32.dll", "CloseHandle", reinterpret_cast<uint64_t>(&closeHandle)},
    {"kernel32.dll", "CreateThread", reinterpret_cast<uint64_t>(&createThread)},
    {"kernel32.dll", "WaitForSingleObject", reinterpret_cast<uint64_t>(&waitForSingleObject)},
    {"kernel32.dll", "GetExitCodeThread", reinterpret_cast<uint64_t>(&getExitCodeThread)},
};

const NativeShim* find(std::string_view dll, std::string_view function) {
  std::string lower(dll);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const NativeShim& s : kShims)
    if (s.dll == lower && s.name == function) return &s;
  return nullptr;
}

}  // namespace

bool hasNativeShim(std::string_view dll, std::string_view function) { return find(dll, function) != nullptr; }

bool mapNativeShims(const std::vector<HostShim>& shims, std::string& error) {
  if (shims.empty()) return true;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t from = ~uint64_t{0}, to = 0;
  for (const HostShim& s : shims) {
    from = std::min(from, s.address);
    to = std::max(to, s.address + thread_arch::kStubBytes);
  }
  from &= ~(page - 1);
  to = (to + page - 1) & ~(page - 1);
  void* at = mmap(reinterpret_cast<void*>(from), to - from, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (at == MAP_FAILED || at != reinterpret_cast<void*>(from)) {
    error = "'shims': cannot map the import stubs at " + std::to_string(from) + ": " + std::strerror(errno);
    return false;
  }
  const std::string_view broken = std::getenv("HPH_TEST_NATIVE_SHIMS") ? std::getenv("HPH_TEST_NATIVE_SHIMS") : "";
  forgetLastError = broken == "wrong-last-error";
  waitReturnsEarly = broken == "wait-returns-early";
  auto* base = static_cast<uint8_t*>(at);
  for (const HostShim& s : shims) {
    uint8_t* slot = base + (s.address - from);
    if (const NativeShim* native = broken == "missing" ? nullptr : find(s.dll, s.function))
      thread_arch::writeJumpStub(slot, native->address);
    else
      thread_arch::writeTrapStub(slot);
  }
  __builtin___clear_cache(reinterpret_cast<char*>(base), reinterpret_cast<char*>(base) + (to - from));
  if (mprotect(at, to - from, PROT_READ | PROT_EXEC) != 0) {
    error = std::string("'shims': mprotect of the import stubs: ") + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace hph
