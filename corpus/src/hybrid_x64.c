/* The x64 half of the hybrid image (hybrid.c is its Arm64EC half). */
#include "corpus.h"

uint64_t add(uint64_t a, uint64_t b); /* Arm64EC code: lld resolves the call to its body */

CORPUS_NOINLINE uint64_t x64_sub(uint64_t a, uint64_t b) { return a - b; }
CORPUS_EXPORT uint64_t x64_calls_add(uint64_t a, uint64_t b) { return add(a, b) + 100; }
