/* The x64 half of the hybrid image (hybrid.c is its Arm64EC half). */
#include "corpus.h"

uint64_t add(uint64_t a, uint64_t b); /* Arm64EC code: lld resolves the call to its body */

CORPUS_NOINLINE uint64_t x64_sub(uint64_t a, uint64_t b) { return a - b; }
CORPUS_EXPORT uint64_t x64_calls_add(uint64_t a, uint64_t b) { return add(a, b) + 100; }

uint64_t sum6(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f); /* Arm64EC code */
uint64_t sum_va(uint64_t count, ...);                                                  /* Arm64EC code */
CORPUS_NOINLINE uint64_t x64_sum6(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f) {
  return a * 6 + b * 5 + c * 4 + d * 3 + e * 2 + f;
}
CORPUS_EXPORT uint64_t x64_calls_sum6(uint64_t a, uint64_t b) { return sum6(a, b, 3, 4, 5, b) + 7; }
CORPUS_EXPORT uint64_t x64_calls_sum_va(uint64_t a, uint64_t b) { return sum_va(3, a, b, (uint64_t)11); }
