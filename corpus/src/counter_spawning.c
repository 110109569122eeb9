/* A hotpatch for counter.c whose replacement does its work on a thread it creates:
 * bump_spawning starts a thread (CreateThread) that adds `amount` to the base's g_counter
 * (through its __ref_ cell), waits for it (WaitForSingleObject), takes its exit code
 * (GetExitCodeThread) and closes it. Under emulation the shims answer; on the host
 * (hph onhost) the runner's native shims start a real thread, which the patchers must
 * suspend and move like the others. If no thread can be started it adds the amount
 * itself. spawning_calls counts the new calls; spawned_threads the threads that ran. */
#include "corpus.h"

typedef uint64_t(__stdcall *thread_start)(void *);
__declspec(dllimport) void *__stdcall CreateThread(void *attributes, uint64_t stack_size, thread_start start,
                                                   void *parameter, uint32_t flags, uint32_t *thread_id);
__declspec(dllimport) uint32_t __stdcall WaitForSingleObject(void *handle, uint32_t ms);
__declspec(dllimport) int __stdcall GetExitCodeThread(void *handle, uint32_t *code);
__declspec(dllimport) int __stdcall CloseHandle(void *handle);

volatile uint64_t g_counter; /* the patch's own copy: only the __ref_ cell's default */
static volatile uint64_t g_spawning_calls;
static volatile uint64_t g_spawned_threads;

CORPUS_HOTPATCH_REF(g_counter);
static CORPUS_HOTPATCH_REF(g_spawning_calls);
static CORPUS_HOTPATCH_REF(g_spawned_threads);

static uint64_t __stdcall add_on_a_thread(void *amount) {
  __atomic_add_fetch(&CORPUS_REF(g_spawned_threads), 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&CORPUS_REF(g_counter), (uint64_t)(uintptr_t)amount, __ATOMIC_SEQ_CST);
  return 7;
}

CORPUS_EXPORT CORPUS_NOINLINE uint64_t bump_spawning(uint64_t amount) {
  __atomic_add_fetch(&CORPUS_REF(g_spawning_calls), 1, __ATOMIC_SEQ_CST);
  void *thread = CreateThread(0, 0, add_on_a_thread, (void *)(uintptr_t)amount, 0, 0);
  if (!thread) return __atomic_add_fetch(&CORPUS_REF(g_counter), amount, __ATOMIC_SEQ_CST);
  uint32_t code = 0;
  /* A wait that fails, or an exit code that is not the thread's, adds 1 more: verify fails. */
  const uint32_t waited = WaitForSingleObject(thread, 0xFFFFFFFFu);
  GetExitCodeThread(thread, &code);
  CloseHandle(thread);
  if (waited != 0 || code != 7) __atomic_add_fetch(&CORPUS_REF(g_counter), 1, __ATOMIC_SEQ_CST);
  return code;
}

CORPUS_EXPORT uint64_t spawning_calls(void) { return g_spawning_calls; }
CORPUS_EXPORT uint64_t spawned_threads(void) { return g_spawned_threads; }
