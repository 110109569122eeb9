/* Thread services a guest expects from Windows: its TEB (gs: on x64, x18 on Arm64) and
 * CreateThread / WaitForSingleObject through kernel32 (provided by the harness's shims). */
#include "corpus.h"

typedef uint64_t(__stdcall *thread_start)(void *);
__declspec(dllimport) void *__stdcall CreateThread(void *attributes, uint64_t stack_size,
                                                   thread_start start, void *parameter,
                                                   uint32_t flags, uint32_t *thread_id);
__declspec(dllimport) uint32_t __stdcall WaitForSingleObject(void *handle, uint32_t ms);
__declspec(dllimport) int __stdcall CloseHandle(void *handle);
__declspec(dllimport) int __stdcall GetExitCodeThread(void *handle, uint32_t *code);
__declspec(dllimport) uint32_t __stdcall GetCurrentThreadId(void);

#define THREADS_MAX 64
#define CHILDREN 3

static volatile uint64_t g_tls_ok[THREADS_MAX];
static volatile uint64_t g_total;

/* The thread id from the TEB (NT_TIB64.ClientId.UniqueThread at +0x48) and from the
 * import must agree, and the TEB's Self pointer (+0x30) must point at the TEB. */
static uint64_t teb_word(uint32_t offset) {
  uint64_t value;
#if defined(__x86_64__)
  __asm__ volatile("movq %%gs:(%1), %0" : "=r"(value) : "r"((uint64_t)offset));
#else
  register uint64_t teb __asm__("x18");
  __asm__ volatile("ldr %0, [%1, %2]" : "=r"(value) : "r"(teb), "r"((uint64_t)offset));
#endif
  return value;
}

CORPUS_EXPORT uint64_t tls_worker(uint64_t index) {
  const uint64_t self = teb_word(0x30);
  const uint64_t tid = teb_word(0x48);
  const uint64_t self_tid = *(volatile uint64_t *)(uintptr_t)(self + 0x48);
  g_tls_ok[index % THREADS_MAX] = (tid == GetCurrentThreadId() && self_tid == tid) ? 1 : 2;
  return tid;
}

CORPUS_EXPORT uint64_t tls_verify(void) {
  for (int i = 0; i < THREADS_MAX; ++i)
    if (g_tls_ok[i] == 2) return 0;
  return 1;
}

static uint64_t __stdcall child(void *parameter) {
  __atomic_fetch_add(&g_total, (uint64_t)(uintptr_t)parameter, __ATOMIC_SEQ_CST);
  return (uint64_t)(uintptr_t)parameter * 10;
}

/* Starts CHILDREN threads, waits for each, and returns the sum of their exit codes. */
CORPUS_EXPORT uint64_t spawner(uint64_t index) {
  void *handles[CHILDREN];
  for (int i = 0; i < CHILDREN; ++i)
    handles[i] = CreateThread(0, 0, child, (void *)(uintptr_t)(index * 100 + i + 1), 0, 0);
  uint64_t sum = 0;
  for (int i = 0; i < CHILDREN; ++i) {
    uint32_t code = 0;
    if (WaitForSingleObject(handles[i], 0xFFFFFFFFu) != 0) return ~0ull;
    GetExitCodeThread(handles[i], &code);
    CloseHandle(handles[i]);
    sum += code;
  }
  return sum;
}

/* What every spawner's children added: sum over spawners s of 3*(100*s)+1+2+3. */
CORPUS_EXPORT uint64_t spawner_total(void) { return g_total; }

/* A deadlock: the child waits for its own handle, the parent waits for the child. */
static void *volatile g_self_handle;

static uint64_t __stdcall waits_for_itself(void *unused) {
  (void)unused;
  while (!g_self_handle) {
  }
  return WaitForSingleObject(g_self_handle, 0xFFFFFFFFu);
}

CORPUS_EXPORT uint64_t deadlock_worker(uint64_t index) {
  (void)index;
  void *child = CreateThread(0, 0, waits_for_itself, 0, 0, 0);
  g_self_handle = child;
  return WaitForSingleObject(child, 0xFFFFFFFFu);
}
