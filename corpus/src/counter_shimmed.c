/* A hotpatch for counter.c whose replacement calls kernel32 through its import table, so
 * that `hph onhost` runs patched code that needs the runner's native shims (docs/shims.md).
 * bump_shimmed adds 1 to the base's g_counter (through its __ref_ cell, as bump_v2) only
 * when the shims answer as Windows would: the thread's last error reads back what it set,
 * and the thread id agrees with the TEB's (ClientId.UniqueThread, gs:0x48 / x18+0x48).
 * A wrong shim adds 2 instead, so the base's `verify` fails. shimmed_calls counts the new
 * calls. */
#include "corpus.h"

__declspec(dllimport) uint32_t __stdcall GetCurrentThreadId(void);
__declspec(dllimport) uint32_t __stdcall GetLastError(void);
__declspec(dllimport) void __stdcall SetLastError(uint32_t code);

volatile uint64_t g_counter; /* the patch's own copy: only the __ref_ cell's default */
static volatile uint64_t g_shimmed_calls;

CORPUS_HOTPATCH_REF(g_counter);
static CORPUS_HOTPATCH_REF(g_shimmed_calls);

static uint64_t teb_thread_id(void) {
  uint64_t value;
#if defined(__x86_64__)
  __asm__ volatile("movq %%gs:0x48, %0" : "=r"(value));
#else
  register uint64_t teb __asm__("x18");
  __asm__ volatile("ldr %0, [%1, #0x48]" : "=r"(value) : "r"(teb));
#endif
  return value;
}

CORPUS_EXPORT CORPUS_NOINLINE uint64_t bump_shimmed(uint64_t amount) {
  const uint32_t id = GetCurrentThreadId();
  SetLastError(id + 7);
  const int answered = GetLastError() == id + 7 && id == (uint32_t)teb_thread_id();
  __atomic_add_fetch(&CORPUS_REF(g_shimmed_calls), 1, __ATOMIC_SEQ_CST);
  return __atomic_add_fetch(&CORPUS_REF(g_counter), answered ? amount : amount + 1, __ATOMIC_SEQ_CST);
}

CORPUS_EXPORT uint64_t shimmed_calls(void) { return g_shimmed_calls; }
