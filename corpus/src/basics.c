/* The computational corpus: one image per architecture whose exports cover the code
 * shapes a trampoline or a patch has to cope with. Every export is total (defined for
 * any 64-bit arguments) so random arguments can be compared against the host build. */
#include "corpus.h"

/* ---- pure arithmetic ---------------------------------------------------------- */

CORPUS_EXPORT uint64_t mix64(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull + (b ^ (c >> 7));
  x ^= x >> 29;
  return x * 0xBF58476D1CE4E5B9ull + c;
}

CORPUS_EXPORT CORPUS_ENTRY_NOP uint32_t rotl_xor(uint32_t a, uint32_t b) {
  uint32_t s = b & 31u;
  uint32_t r = s ? (a << s) | (a >> (32u - s)) : a;
  return r ^ (b * 2654435761u);
}

CORPUS_EXPORT int64_t signed_divmod(int64_t a, int64_t b) {
  if (b == 0) return -1;
  if (b == -1) return (int64_t)(0 - (uint64_t)a); /* avoids INT64_MIN / -1 */
  return (a / b) * 1000 + (a % b);
}

/* Eight integer arguments: four in registers and four on the stack on x64. */
CORPUS_EXPORT uint64_t sum8(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
                            uint64_t f, uint64_t g, uint64_t h) {
  return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}

/* ---- loops with back-edges ----------------------------------------------------- */

CORPUS_EXPORT uint64_t popcount_loop(uint64_t x) {
  uint64_t n = 0;
  while (x) {
    x &= x - 1;
    ++n;
  }
  return n;
}

CORPUS_EXPORT CORPUS_ENTRY_NOP uint64_t collatz_steps(uint64_t n) {
  uint64_t steps = 0;
  n = (n & 0xFFFFF) + 1;
  while (n != 1 && steps < 1000) {
    n = (n & 1) ? 3 * n + 1 : n / 2;
    ++steps;
  }
  return steps;
}

CORPUS_EXPORT uint64_t fib_iter(uint64_t n) {
  uint64_t a = 0, b = 1;
  for (uint64_t i = 0; i < (n & 127); ++i) {
    uint64_t t = a + b;
    a = b;
    b = t;
  }
  return a;
}

/* ---- global data: RIP-relative (x64) and ADRP-based (Arm64) access ------------- */

static const uint32_t kSboxes[16] = {
    0x3C, 0x91, 0x2A, 0x77, 0xE4, 0x05, 0xB8, 0x6F,
    0xD1, 0x48, 0x9C, 0x13, 0x60, 0xFA, 0x2E, 0xC7,
};
static uint64_t g_scratch[8];

CORPUS_EXPORT uint64_t table_hash(uint64_t x) {
  uint64_t h = 0;
  for (int i = 0; i < 16; ++i) {
    h = (h << 4) ^ kSboxes[(x >> (4 * (i & 15))) & 15] ^ (h >> 60);
  }
  return h;
}

CORPUS_EXPORT CORPUS_ENTRY_NOP uint64_t scratch_roundtrip(uint64_t x) {
  volatile uint64_t *slots = g_scratch;
  for (int i = 0; i < 8; ++i) slots[i] = x + (uint64_t)i * 3;
  uint64_t sum = 0;
  for (int i = 7; i >= 0; --i) sum = sum * 31 + slots[i];
  return sum;
}

/* ---- jump tables ---------------------------------------------------------------- */

CORPUS_EXPORT uint64_t dispatch(uint64_t op, uint64_t a, uint64_t b) {
  switch (op % 11) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a ^ b;
    case 4: return a | b;
    case 5: return a & b;
    case 6: return a << (b & 63);
    case 7: return a >> (b & 63);
    case 8: return b ? a / b : 0;
    case 9: return b ? a % b : 0;
    default: return ~a;
  }
}

/* A table of absolute function pointers in .data: needs base relocations (DIR64). */
static CORPUS_NOINLINE uint64_t op_double(uint64_t x) { return x * 2; }
static CORPUS_NOINLINE uint64_t op_square(uint64_t x) { return x * x; }
static CORPUS_NOINLINE uint64_t op_negate(uint64_t x) { return 0 - x; }
static CORPUS_NOINLINE uint64_t op_swap(uint64_t x) { return (x << 32) | (x >> 32); }
static uint64_t (*volatile g_ops[4])(uint64_t) = {op_double, op_square, op_negate, op_swap};

CORPUS_EXPORT uint64_t apply_op(uint64_t index, uint64_t x) {
  return g_ops[index & 3](x) + index;
}

/* ---- recursion and calls between functions -------------------------------------- */

CORPUS_EXPORT CORPUS_NOINLINE uint64_t fib_rec(uint64_t n) {
  n &= 15;
  return n < 2 ? n : fib_rec(n - 1) + fib_rec(n - 2);
}

CORPUS_EXPORT CORPUS_NOINLINE uint64_t gcd_rec(uint64_t a, uint64_t b) {
  return b == 0 ? a : gcd_rec(b, a % b);
}

CORPUS_EXPORT uint64_t call_chain(uint64_t x) {
  uint64_t a = fib_rec(x);
  uint64_t b = gcd_rec(x | 1, 0x2D0ull);
  uint64_t c = apply_op(x, b);
  return mix64(a, b, c) ^ table_hash(x);
}
