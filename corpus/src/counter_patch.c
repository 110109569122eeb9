/* A hotpatch for counter.c: bump_v2 replaces bump. As in clang's secure hotpatch, the
 * hot-patched functions (bump_v2, bump_keyed_v2) reach every mutable global through a
 * `__ref_` pointer cell, declared here (CORPUS_HOTPATCH_REF, corpus.h). build.sh exports
 * __ref_g_counter and __ref_g_keyed, and the harness points them at the base image's
 * g_counter and g_keyed when it loads the patch (docs/patches.md); __ref_g_v2_calls keeps
 * pointing at the patch's own counter. v2_calls counts the new calls. */
#include "corpus.h"

volatile uint64_t g_counter; /* the patch's own copy: only the __ref_ cell's default */
static volatile uint64_t g_v2_calls;
volatile uint64_t g_keyed;   /* likewise */

CORPUS_HOTPATCH_REF(g_counter);
CORPUS_HOTPATCH_REF(g_keyed);
static CORPUS_HOTPATCH_REF(g_v2_calls);

CORPUS_EXPORT CORPUS_NOINLINE CORPUS_ENTRY_NOP uint64_t bump_v2(uint64_t amount) {
  __atomic_add_fetch(&CORPUS_REF(g_v2_calls), 1, __ATOMIC_SEQ_CST);
  return __atomic_add_fetch(&CORPUS_REF(g_counter), amount, __ATOMIC_SEQ_CST);
}

CORPUS_EXPORT uint64_t v2_calls(void) { return g_v2_calls; }

CORPUS_EXPORT CORPUS_NOINLINE uint64_t bump_keyed_v2(uint64_t amount) {
  __atomic_add_fetch(&CORPUS_REF(g_v2_calls), 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&CORPUS_REF(g_keyed), amount, __ATOMIC_SEQ_CST);
  return amount * 0x9E3779B97F4A7C15ull;
}

/* The new scaled(): another pure function of its argument. */
CORPUS_EXPORT CORPUS_NOINLINE uint64_t scaled_v2(uint64_t x) { return x * 13; }
