/* The second patch of counter's series (SequenceNumber 2, applied over the first):
 * bump_v3 replaces bump_v2. Same __ref_ cell for g_counter (CORPUS_HOTPATCH_REF,
 * corpus.h), which the table's ABSOLUTE chunk points at the base's g_counter; v3_calls
 * counts the calls that reached it. */
#include "corpus.h"

volatile uint64_t g_counter; /* the patch's own copy: only the __ref_ cell's default */
static volatile uint64_t g_v3_calls;

CORPUS_HOTPATCH_REF(g_counter);
static CORPUS_HOTPATCH_REF(g_v3_calls);

CORPUS_EXPORT CORPUS_NOINLINE CORPUS_ENTRY_NOP uint64_t bump_v3(uint64_t amount) {
  __atomic_add_fetch(&CORPUS_REF(g_v3_calls), 1, __ATOMIC_SEQ_CST);
  return __atomic_add_fetch(&CORPUS_REF(g_counter), amount, __ATOMIC_SEQ_CST);
}

CORPUS_EXPORT uint64_t v3_calls(void) { return g_v3_calls; }
