/* An image that imports from system DLLs, to exercise the harness's shim modules.
 * `thread_id_plus` and `tick_delta` use imports the shims provide; `needs_missing`
 * calls one they do not (running it must be refused naming the import). */
#include "corpus.h"

__declspec(dllimport) uint32_t __stdcall GetCurrentThreadId(void);
__declspec(dllimport) uint64_t __stdcall GetTickCount64(void);
__declspec(dllimport) uint32_t __stdcall GetProcessHeaps(uint32_t count, void **heaps);

CORPUS_EXPORT uint64_t thread_id_plus(uint64_t x) { return x + GetCurrentThreadId(); }

CORPUS_EXPORT uint64_t tick_delta(uint64_t x) {
  uint64_t a = GetTickCount64();
  uint64_t b = GetTickCount64();
  return (b - a) + x;
}

CORPUS_EXPORT uint64_t needs_missing(uint64_t x) { return GetProcessHeaps(0, 0) + x; }
