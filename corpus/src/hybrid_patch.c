/* The patch image for hybrid.arm64ec.dll: Arm64EC replacements, each an export with its
 * own x64 entry (fast-forward sequence), so a patch may redirect either of the base
 * function's entries to the matching entry here ([protocol] site). Each counts its calls,
 * as the other corpus patches do. */
#include "corpus.h"

CORPUS_EXPORT volatile uint64_t g_v2_calls;

CORPUS_EXPORT CORPUS_NOINLINE uint64_t add_v2(uint64_t a, uint64_t b) {
  g_v2_calls = g_v2_calls + 1;
  return a + b;
}

CORPUS_EXPORT CORPUS_NOINLINE uint64_t mul_v2(uint64_t a, uint64_t b) {
  g_v2_calls = g_v2_calls + 1;
  return a * b;
}

CORPUS_EXPORT CORPUS_NOINLINE uint64_t square_of_v2(uint64_t x) {
  g_v2_calls = g_v2_calls + 1;
  return x * x;
}
