/* Concurrency bugs for the scheduler to find, each with an invariant export.
 *
 *  - race_worker: a lost update. The increment is a separate load and store (a compiler
 *    barrier keeps clang from folding them into one x64 `add [mem]`), so a preemption
 *    between them loses the other thread's increments. race_verify returns 0 then.
 *  - atomic_worker: the same with an atomic add (x64 `lock xadd`, Arm64 LDAXR/STLXR).
 *    It must pass under every schedule and any number of threads.
 *  - ordering_worker: a depth-2 ordering bug (PCT, Burckhardt et al. 2010): thread 0
 *    writes a then b; the others read a then b; the bug needs a read of a after its write
 *    and a read of b before its write. ordering_verify returns 0 then. */
#include "corpus.h"

#define RACE_ITERATIONS 3
#define RACE_MAX_THREADS 64

static volatile uint64_t g_race_counter;
static volatile uint64_t g_race_done[RACE_MAX_THREADS];

CORPUS_EXPORT CORPUS_NOINLINE CORPUS_ENTRY_NOP void racy_increment(void) {
  uint64_t value = g_race_counter;
  __asm__ volatile("" ::: "memory");
  g_race_counter = value + 1;
}

CORPUS_EXPORT CORPUS_NOINLINE CORPUS_ENTRY_NOP void atomic_increment(void) {
  __atomic_fetch_add(&g_race_counter, 1, __ATOMIC_SEQ_CST);
}

CORPUS_EXPORT uint64_t race_worker(uint64_t index) {
  for (int i = 0; i < RACE_ITERATIONS; ++i) racy_increment();
  g_race_done[index % RACE_MAX_THREADS] += RACE_ITERATIONS;
  return 0;
}

CORPUS_EXPORT uint64_t atomic_worker(uint64_t index) {
  for (int i = 0; i < RACE_ITERATIONS; ++i) atomic_increment();
  g_race_done[index % RACE_MAX_THREADS] += RACE_ITERATIONS;
  return 0;
}

CORPUS_EXPORT uint64_t race_verify(void) {
  uint64_t expected = 0;
  for (int i = 0; i < RACE_MAX_THREADS; ++i) expected += g_race_done[i];
  return g_race_counter == expected ? 1 : 0;
}

CORPUS_EXPORT uint64_t race_counter(void) { return g_race_counter; }

static volatile uint64_t g_order_a, g_order_b, g_order_bug;
static volatile uint64_t g_order_work;

static CORPUS_NOINLINE void busy(int n) {
  for (int i = 0; i < n; ++i) g_order_work = g_order_work + (uint64_t)i;
}

CORPUS_EXPORT CORPUS_NOINLINE void order_write(void) {
  g_order_a = 1;
  busy(8);
  g_order_b = 1;
}

CORPUS_EXPORT CORPUS_NOINLINE void order_read(void) {
  uint64_t a = g_order_a;
  busy(8);
  uint64_t b = g_order_b;
  if (a == 1 && b == 0) g_order_bug = 1;
}

CORPUS_EXPORT uint64_t ordering_worker(uint64_t index) {
  busy(4);
  if (index == 0) order_write(); else order_read();
  return 0;
}

CORPUS_EXPORT uint64_t ordering_verify(void) { return g_order_bug ? 0 : 1; }
