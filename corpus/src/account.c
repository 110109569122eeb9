/* A bank account that several threads deposit into, and the base of the account
 * patches (account_patch.c). deposit() is atomic, so the balance is exact under any
 * interleaving of its callers; a patch must keep it so. */
#include "corpus.h"

#define ACCOUNT_CALLS 40
#define ACCOUNT_MAX_THREADS 64

/* Exported: a patch reaches it through its __ref_g_balance cell. */
CORPUS_EXPORT volatile uint64_t g_balance;
static volatile uint64_t g_deposits[ACCOUNT_MAX_THREADS];

CORPUS_EXPORT CORPUS_NOINLINE CORPUS_ENTRY_NOP uint64_t account(uint64_t amount) {
  return __atomic_add_fetch(&g_balance, amount, __ATOMIC_SEQ_CST);
}

static uint64_t deposit_loop(uint64_t index, uint64_t calls) {
  for (uint64_t i = 0; i < calls; ++i) {
    account(1);
    g_deposits[index % ACCOUNT_MAX_THREADS] = g_deposits[index % ACCOUNT_MAX_THREADS] + 1;
  }
  return 0;
}

/* Dozens of calls per thread, as a user's workload has. */
CORPUS_EXPORT uint64_t account_worker(uint64_t index) { return deposit_loop(index, ACCOUNT_CALLS); }
/* Two calls: small enough for exhaustive bound-2 exploration of every schedule. */
CORPUS_EXPORT uint64_t account_short_worker(uint64_t index) { return deposit_loop(index, 2); }

CORPUS_EXPORT uint64_t account_verify(void) {
  uint64_t total = 0;
  for (int i = 0; i < ACCOUNT_MAX_THREADS; ++i) total += g_deposits[i];
  return total == g_balance ? 1 : 0;
}
