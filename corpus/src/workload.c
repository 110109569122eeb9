/* A long-running workload for benchmarks: threads compute, and now and then call `tick`,
 * a small function a scenario can watch (or patch). Most instructions run outside any
 * watched range, which is where the harness must run at close to raw Unicorn speed. */
#include "corpus.h"

#define WORK_ITERATIONS 200000
#define TICK_EVERY 1024

static volatile uint64_t g_ticks;

CORPUS_EXPORT CORPUS_NOINLINE CORPUS_ENTRY_NOP void tick(void) { g_ticks = g_ticks + 1; }

CORPUS_EXPORT uint64_t work(uint64_t index) {
  uint64_t x = index + 1, acc = 0;
  for (uint64_t i = 0; i < WORK_ITERATIONS; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    acc += (x >> 33) ^ i;
    if ((i & (TICK_EVERY - 1)) == 0) tick();
  }
  return acc;
}

CORPUS_EXPORT uint64_t ticks(void) { return g_ticks; }
