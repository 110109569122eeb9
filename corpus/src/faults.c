/* Guests that misbehave: the harness must report these, never crash or hang. */
#include "corpus.h"

CORPUS_EXPORT uint64_t spin_forever(uint64_t x) {
  volatile uint64_t v = x;
  for (;;) v = v + 1;
}

CORPUS_EXPORT uint64_t read_unmapped(uint64_t x) {
  volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(0x10 + (x & 0xF0));
  return *p;
}

CORPUS_EXPORT void write_unmapped(uint64_t x) {
  volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)0x7FF000000000ull;
  *p = x;
}

CORPUS_EXPORT uint64_t call_null(uint64_t x) {
  uint64_t (*volatile fn)(uint64_t) = 0;
  return fn(x);
}

/* An undefined instruction: ud2 on x64, udf #0 on Arm64. */
CORPUS_EXPORT uint64_t invalid_instruction(uint64_t x) {
#if defined(__x86_64__)
  __asm__ volatile("ud2");
#else
  __asm__ volatile(".inst 0x00000000");
#endif
  return x;
}

CORPUS_EXPORT uint64_t deep_recursion(uint64_t x) {
  volatile uint64_t pad[64];
  pad[x & 63] = x;
  return deep_recursion(x + 1) + pad[(x + 1) & 63];
}
