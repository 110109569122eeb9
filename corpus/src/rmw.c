/* x64 read-modify-write instructions on memory, without and with LOCK.
 *
 * `plain_increment` is the C loop `v = g; g = v + 1` written the way clang-22 folds it on
 * x64: one `inc qword [rip+x]`. On real multi-core x64 that instruction is a load and a
 * store that other cores may interleave, so threads calling it lose updates; the harness
 * models that by splitting a non-locked memory RMW into its read and its write (a
 * recorded exploration choice). On Arm64 the same C is a separate LDR, ADD and STR.
 * `plain_add` (`add [m], r`) and `plain_xadd` (`xadd [m], r` without LOCK) are further
 * shapes; `locked_increment` (`lock inc`) and `exchange_token` (`xchg` with memory, which
 * is locked implicitly) are indivisible and must never lose an update.
 * Workers call their function RMW_CALLS times: a workload of the size users have. */
#include "corpus.h"

#define RMW_CALLS 40
#define RMW_MAX_THREADS 64

static uint64_t g_rmw_counter;
static uint64_t g_rmw_slot;
static volatile uint64_t g_rmw_given[RMW_MAX_THREADS], g_rmw_taken[RMW_MAX_THREADS];
static volatile uint64_t g_rmw_calls[RMW_MAX_THREADS];

CORPUS_EXPORT CORPUS_NOINLINE CORPUS_ENTRY_NOP void plain_increment(void) {
  uint64_t value = g_rmw_counter;
  g_rmw_counter = value + 1;
  __asm__ volatile("" ::: "memory");
}

#if defined(_WIN32) && defined(__x86_64__)
CORPUS_EXPORT CORPUS_NOINLINE void plain_add(void) {
  __asm__ volatile("addq %1, %0" : "+m"(g_rmw_counter) : "r"((uint64_t)1) : "cc", "memory");
}
CORPUS_EXPORT CORPUS_NOINLINE void plain_xadd(void) {
  uint64_t one = 1;
  __asm__ volatile("xaddq %1, %0" : "+m"(g_rmw_counter), "+r"(one) : : "cc", "memory");
}
CORPUS_EXPORT CORPUS_NOINLINE void locked_increment(void) {
  __asm__ volatile("lock incq %0" : "+m"(g_rmw_counter) : : "cc", "memory");
}
/* xchg with memory: each call swaps a token into the slot and gets the one before. */
CORPUS_EXPORT CORPUS_NOINLINE uint64_t exchange_token(uint64_t token) {
  __asm__ volatile("xchgq %0, %1" : "+r"(token), "+m"(g_rmw_slot) : : "memory");
  return token;
}
#else
CORPUS_EXPORT CORPUS_NOINLINE void plain_add(void) { plain_increment(); }
CORPUS_EXPORT CORPUS_NOINLINE void plain_xadd(void) { plain_increment(); }
CORPUS_EXPORT CORPUS_NOINLINE void locked_increment(void) {
  __atomic_fetch_add(&g_rmw_counter, 1, __ATOMIC_SEQ_CST);
}
CORPUS_EXPORT CORPUS_NOINLINE uint64_t exchange_token(uint64_t token) {
  return __atomic_exchange_n(&g_rmw_slot, token, __ATOMIC_SEQ_CST);
}
#endif

static uint64_t run_rmw(uint64_t index, void (*increment)(void)) {
  for (int i = 0; i < RMW_CALLS; ++i) increment();
  g_rmw_calls[index % RMW_MAX_THREADS] += RMW_CALLS;
  return 0;
}

CORPUS_EXPORT uint64_t plain_worker(uint64_t index) { return run_rmw(index, plain_increment); }
CORPUS_EXPORT uint64_t plain_add_worker(uint64_t index) { return run_rmw(index, plain_add); }
CORPUS_EXPORT uint64_t plain_xadd_worker(uint64_t index) { return run_rmw(index, plain_xadd); }
CORPUS_EXPORT uint64_t locked_worker(uint64_t index) { return run_rmw(index, locked_increment); }
/* Tokens are conserved: whatever went into the slot came out of it or is still there. */
CORPUS_EXPORT uint64_t exchange_worker(uint64_t index) {
  for (uint64_t i = 0; i < RMW_CALLS; ++i) {
    const uint64_t token = (index + 1) * 1000 + i + 1;
    g_rmw_given[index % RMW_MAX_THREADS] += token;
    g_rmw_taken[index % RMW_MAX_THREADS] += exchange_token(token);
  }
  return 0;
}

CORPUS_EXPORT uint64_t exchange_verify(void) {
  uint64_t given = 0, taken = 0;
  for (int i = 0; i < RMW_MAX_THREADS; ++i) given += g_rmw_given[i], taken += g_rmw_taken[i];
  return taken + g_rmw_slot == given ? 1 : 0;
}

/* 1 when no update was lost. */
CORPUS_EXPORT uint64_t rmw_verify(void) {
  uint64_t expected = 0;
  for (int i = 0; i < RMW_MAX_THREADS; ++i) expected += g_rmw_calls[i];
  return g_rmw_counter == expected ? 1 : 0;
}

/* A thread that reads code as data (a guest checking a prologue): the byte it saw at
 * code_target's entry. A patcher store there conflicts with that read, so schedules
 * that put the store first cannot be pruned as equivalent (sleep sets need the rule). */
static volatile uint8_t g_seen_code;

CORPUS_EXPORT CORPUS_NOINLINE uint64_t code_target(uint64_t x) { return x * 3 + 1; }

/* Watched by the scenario: the scheduling point that ends the reading transition (a
 * thread's exit conflicts with everything, so the read must end before it). */
CORPUS_EXPORT CORPUS_NOINLINE uint64_t code_reader_done(uint64_t x) { return x + g_seen_code; }

CORPUS_EXPORT uint64_t code_reader_worker(uint64_t index) {
  g_seen_code = *(volatile const uint8_t *)(const void *)&code_target;
  return code_reader_done(index);
}

/* 0 when the reader saw an int3 (0xCC), the byte the scenario's store writes. */
CORPUS_EXPORT uint64_t code_reader_verify(void) { return g_seen_code != 0xCC ? 1 : 0; }
