/* A hotpatch for counter.c: bump_v2 replaces bump. Compiled with clang's secure-hotpatch
 * mode for bump_v2, so its accesses to g_counter go through a `__ref_g_counter` pointer
 * cell; the image exports the cell and the harness points it at the base image's
 * g_counter when it loads the patch (docs/patches.md). v2_calls counts the new calls. */
#include "corpus.h"

volatile uint64_t g_counter; /* the patch's own copy: only the __ref_ cell's default */
static volatile uint64_t g_v2_calls;

CORPUS_EXPORT CORPUS_NOINLINE CORPUS_ENTRY_NOP uint64_t bump_v2(uint64_t amount) {
  __atomic_add_fetch(&g_v2_calls, 1, __ATOMIC_SEQ_CST);
  return __atomic_add_fetch(&g_counter, amount, __ATOMIC_SEQ_CST);
}

CORPUS_EXPORT uint64_t v2_calls(void) { return g_v2_calls; }

volatile uint64_t g_keyed;

CORPUS_EXPORT CORPUS_NOINLINE uint64_t bump_keyed_v2(uint64_t amount) {
  __atomic_add_fetch(&g_v2_calls, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&g_keyed, amount, __ATOMIC_SEQ_CST);
  return amount * 0x9E3779B97F4A7C15ull;
}

/* The new scaled(): another pure function of its argument. */
CORPUS_EXPORT CORPUS_NOINLINE uint64_t scaled_v2(uint64_t x) { return x * 13; }
