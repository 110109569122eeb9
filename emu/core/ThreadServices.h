// What thread-related shims (CreateThread, WaitForSingleObject, ...) need from whoever
// runs guest threads. A Machine running a single call has none: those shims then fail
// the way Windows reports failure, instead of pretending.
#pragma once

#include <cstdint>
#include <optional>

namespace hph {

class ThreadServices {
 public:
  virtual ~ThreadServices() = default;

  virtual uint64_t currentThreadId() const = 0;
  // A new runnable thread running entry(parameter); its handle, or nullopt when refused.
  virtual std::optional<uint64_t> createThread(uint64_t entry, uint64_t parameter, uint64_t* threadId) = 0;
  enum class WaitResult { kSignaled, kTimeout, kWouldBlock, kInvalidHandle };
  // kWouldBlock: the calling thread is now blocked on `handle`; the shim runs again when
  // it is resumed.
  virtual WaitResult wait(uint64_t handle, bool mayBlock) = 0;
  // The thread's exit code, 259 (STILL_ACTIVE) while it runs, nullopt for a bad handle.
  virtual std::optional<uint64_t> exitCode(uint64_t handle) const = 0;
  // GetLastError / SetLastError state of the running thread.
  virtual uint32_t lastError() const = 0;
  virtual void setLastError(uint32_t value) = 0;
};

}  // namespace hph
