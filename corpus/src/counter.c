/* A shared counter updated by several guest threads. Scenarios run `worker` on many
 * threads at once and call `verify` when they all finished. */
#include "corpus.h"

#define COUNTER_ITERATIONS 40
#define COUNTER_MAX_THREADS 64
#define PATCH_WORKER_CALLS 2

/* Exported: a hotpatch reaches it through its __ref_g_counter cell. */
CORPUS_EXPORT volatile uint64_t g_counter;
static volatile uint64_t g_per_thread[COUNTER_MAX_THREADS];

/* The function a hotpatch replaces: an atomic add, so the counter is exact under any
 * interleaving of its callers (patching must keep it so). */
CORPUS_EXPORT CORPUS_NOINLINE CORPUS_ENTRY_NOP uint64_t bump(uint64_t amount) {
  return __atomic_add_fetch(&g_counter, amount, __ATOMIC_SEQ_CST);
}

/* Thread `index` calls `increment` `calls` times, counting its own calls. */
static uint64_t run_worker(uint64_t index, uint64_t (*increment)(uint64_t), uint64_t calls) {
  uint64_t slot = index % COUNTER_MAX_THREADS;
  for (uint64_t i = 0; i < calls; ++i) {
    increment(1);
    g_per_thread[slot] = g_per_thread[slot] + 1;
  }
  return g_per_thread[slot];
}

/* 1 when no update was lost: `counter` equals the sum of what the threads did. */
static uint64_t no_update_lost(volatile uint64_t *counter) {
  uint64_t total = 0;
  for (int i = 0; i < COUNTER_MAX_THREADS; ++i) total += g_per_thread[i];
  return total == *counter ? 1 : 0;
}

CORPUS_EXPORT uint64_t worker(uint64_t index) { return run_worker(index, bump, COUNTER_ITERATIONS); }
/* Few calls: sized for exhaustive exploration of a patch at preemption bound 2, where
 * every call through the patched entry adds scheduling points. */
CORPUS_EXPORT uint64_t patch_worker(uint64_t index) { return run_worker(index, bump, PATCH_WORKER_CALLS); }
CORPUS_EXPORT uint64_t verify(void) { return no_update_lost(&g_counter); }
/* Sized between the two, for the exploration benchmarks (bench/ReductionBench.cpp). */
CORPUS_EXPORT uint64_t worker_5(uint64_t index) { return run_worker(index, bump, 5); }
CORPUS_EXPORT uint64_t worker_10(uint64_t index) { return run_worker(index, bump, 10); }
CORPUS_EXPORT uint64_t worker_20(uint64_t index) { return run_worker(index, bump, 20); }

CORPUS_EXPORT uint64_t counter_value(void) { return g_counter; }

/* bump with a 10-byte first instruction (x64 movabs): the one shape int3-3step may patch
 * live, since its 5 new bytes then cover a single instruction. */
CORPUS_EXPORT volatile uint64_t g_keyed; /* a patch reaches it via __ref_g_keyed */

CORPUS_EXPORT CORPUS_NOINLINE uint64_t bump_keyed(uint64_t amount) {
  const uint64_t keyed = amount * 0x9E3779B97F4A7C15ull;
  __atomic_add_fetch(&g_keyed, amount, __ATOMIC_SEQ_CST);
  return keyed;
}

CORPUS_EXPORT uint64_t keyed_worker(uint64_t index) { return run_worker(index, bump_keyed, COUNTER_ITERATIONS); }
CORPUS_EXPORT uint64_t keyed_patch_worker(uint64_t index) {
  return run_worker(index, bump_keyed, PATCH_WORKER_CALLS);
}
CORPUS_EXPORT uint64_t keyed_verify(void) { return no_update_lost(&g_keyed); }

/* For a patch of both bump and bump_keyed (the series): each call is one of each, so a
 * search exercises every function the patch replaces, and both counters stay exact. */
static uint64_t bump_both(uint64_t amount) {
  bump(amount);
  return bump_keyed(amount);
}
CORPUS_EXPORT uint64_t series_worker(uint64_t index) { return run_worker(index, bump_both, PATCH_WORKER_CALLS); }
CORPUS_EXPORT uint64_t series_verify(void) { return no_update_lost(&g_counter) & no_update_lost(&g_keyed); }

#if defined(_WIN32) && defined(__x86_64__)
/* call_first: after the 2-byte nop -fms-hotpatch puts first, a 2-byte `call rcx`, so the
 * 5 bytes stop-the-world replaces hold its return address strictly inside. While it is in
 * `callee` that address is on its stack, where no PC move can fix it: the protocol must
 * retry later or give up. (The callee runs with rsp 8 bytes off the ABI's alignment;
 * `spin` does not care.) */
CORPUS_EXPORT __attribute__((naked)) uint64_t call_first(uint64_t (*callee)(void)) {
  __asm__("call *%rcx\n\tmov %rax, %rax\n\tret");
}

/* A callee that takes a while (its loop is what a scenario watches). */
CORPUS_EXPORT CORPUS_NOINLINE uint64_t spin(void) {
  volatile uint64_t i = 0;
  while (i < 16) i = i + 1;
  return i;
}

CORPUS_EXPORT uint64_t call_first_worker(uint64_t index) {
  uint64_t total = index;
  for (int i = 0; i < 4; ++i) total += call_first(spin);
  return total;
}
#endif

/* A pure function (its result depends on its argument only) that starts, after x64's
 * 2-byte hotpatch nop, with a RIP-relative load, so a trampoline's RIP fixup decides its
 * result: version consistency (C5) compares each call's result with old and new. */
CORPUS_EXPORT const uint64_t g_scale_table[4] = {3, 5, 7, 11};

#if defined(_WIN32) && defined(__x86_64__)
CORPUS_EXPORT __attribute__((naked)) uint64_t scaled(uint64_t x) {
  __asm__("lea g_scale_table(%rip), %rax\n\t"
          "mov %rcx, %rdx\n\t"
          "and $3, %edx\n\t"
          "mov (%rax,%rdx,8), %rax\n\t"
          "imul %rcx, %rax\n\t"
          "ret");
}
#else
CORPUS_EXPORT CORPUS_NOINLINE uint64_t scaled(uint64_t x) { return g_scale_table[x & 3] * x; }
#endif

CORPUS_EXPORT uint64_t scaled_worker(uint64_t index) {
  uint64_t total = 0;
  for (uint64_t i = 0; i < PATCH_WORKER_CALLS; ++i) total += scaled(index + i);
  return total;
}
