/* A hybrid (Arm64EC) image: these functions compile to Arm64EC code, hybrid_x64.c's to
 * x64 code in the same image. Every way a call can enter an Arm64EC function is here:
 * - x64 callers through an export (its x64 fast-forward sequence, .hexpthk),
 * - x64 code calling the Arm64EC body directly (x64_calls_add in hybrid_x64.c),
 * - Arm64EC callers, directly or through a pointer (__os_arm64x_check_icall),
 * - a hybrid-patchable function, whose Arm64EC callers go through its x64 entry,
 * - a function the compiler inlines into a sibling (a patch cannot reach that copy).
 * Arm64EC code calls x64 code through an exit thunk (ec_calls_x64). */
#include "corpus.h"

#if defined(_WIN32)
#define CORPUS_HYBRID_PATCHABLE __attribute__((hybrid_patchable))
#else
#define CORPUS_HYBRID_PATCHABLE
#endif

#define HYBRID_CALLS 2
#define HYBRID_MAX_THREADS 64

CORPUS_EXPORT volatile uint64_t g_total;
static volatile uint64_t g_calls[HYBRID_MAX_THREADS];

CORPUS_EXPORT CORPUS_NOINLINE uint64_t add(uint64_t a, uint64_t b) { return a + b; }

/* Arm64EC callers reach it through #mul$hybpatch_thunk and its x64 entry. */
CORPUS_EXPORT CORPUS_NOINLINE CORPUS_HYBRID_PATCHABLE uint64_t mul(uint64_t a, uint64_t b) { return a * b; }

/* Inlined into sum_squares: patching square_of leaves that copy as it is. */
static inline uint64_t square(uint64_t x) { return x * x; }
CORPUS_EXPORT CORPUS_NOINLINE uint64_t square_of(uint64_t x) { return square(x); }
CORPUS_EXPORT uint64_t sum_squares(uint64_t a, uint64_t b) { return square(a) + square(b); }

CORPUS_EXPORT uint64_t scaled(uint64_t a, uint64_t b) { return add(a, b) * 3 + mul(a, b); }

typedef uint64_t (*binary_op)(uint64_t, uint64_t);
CORPUS_EXPORT CORPUS_NOINLINE uint64_t apply(binary_op f, uint64_t a, uint64_t b) { return f(a, b) + 1; }
CORPUS_EXPORT uint64_t apply_add(uint64_t a, uint64_t b) { return apply(add, a, b); }

uint64_t x64_sub(uint64_t a, uint64_t b); /* x64 code (hybrid_x64.c) */
CORPUS_EXPORT uint64_t ec_calls_x64(uint64_t a, uint64_t b) { return x64_sub(a, b) * 2; }

/* Stack arguments: an x64 caller leaves the 5th and 6th above its home area, where the
 * Arm64EC body reads them through its entry thunk; and the other way round, through an
 * exit thunk. A variadic function reads its arguments through x4 (the x64 stack); its
 * callers pass 64-bit values (va_arg reads uint64_t). */
CORPUS_EXPORT CORPUS_NOINLINE uint64_t sum6(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f) {
  return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f;
}
uint64_t x64_sum6(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f); /* x64 code */
CORPUS_EXPORT uint64_t ec_calls_x64_sum6(uint64_t a, uint64_t b) { return x64_sum6(a, b, 3, 4, a, b) + 1; }
CORPUS_EXPORT CORPUS_NOINLINE uint64_t sum_va(uint64_t count, ...) {
  __builtin_va_list ap;
  __builtin_va_start(ap, count);
  uint64_t total = 0;
  for (uint64_t i = 0; i < count && i < 8; ++i) total = total * 31 + __builtin_va_arg(ap, uint64_t);
  __builtin_va_end(ap);
  return total;
}
CORPUS_EXPORT uint64_t ec_calls_sum_va(uint64_t a, uint64_t b) { return sum_va(5, a, b, a + b, (uint64_t)7, (uint64_t)9); }

/* Threads: each adds through `add` and `mul`, counting its own calls. */
CORPUS_EXPORT uint64_t hybrid_worker(uint64_t index) {
  const uint64_t slot = index % HYBRID_MAX_THREADS;
  for (uint64_t i = 0; i < HYBRID_CALLS; ++i) {
    __atomic_add_fetch(&g_total, add(i, 1) + mul(i, 0), __ATOMIC_SEQ_CST);
    g_calls[slot] = g_calls[slot] + 1;
  }
  return g_calls[slot];
}

/* 1 when every call's amount arrived: each call i adds i + 1. */
CORPUS_EXPORT uint64_t hybrid_verify(void) {
  uint64_t expected = 0;
  for (int t = 0; t < HYBRID_MAX_THREADS; ++t)
    for (uint64_t i = 0; i < g_calls[t]; ++i) expected += i % HYBRID_CALLS + 1;
  return expected == g_total ? 1 : 0;
}
