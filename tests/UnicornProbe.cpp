#include "tests/UnicornProbe.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unicorn/unicorn.h>
#include <unistd.h>

#include <cerrno>

namespace hph::test {
namespace {

constexpr uint64_t kCode = 0x10000;

// A bare engine (max CPU, as Arm64Arch opens it, but without its translation guard),
// opened once: each child uses its copy.
uc_engine* bareEngine() {
  thread_local uc_engine* uc = [] {
    uc_engine* e = nullptr;
    if (uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &e) != UC_ERR_OK) return static_cast<uc_engine*>(nullptr);
    uc_ctl_set_cpu_model(e, UC_CPU_ARM64_MAX);
    uc_mem_map(e, kCode, 0x1000, UC_PROT_ALL);
    return e;
  }();
  return uc;
}

}  // namespace

WordOutcome probeArm64Word(uint32_t word) {
  uc_engine* uc = bareEngine();
  if (!uc) return WordOutcome::kAborts;
  const pid_t child = fork();
  if (child < 0) return WordOutcome::kAborts;
  if (child > 0) {
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status)) return WordOutcome::kAborts;
    return WEXITSTATUS(status) == 0 ? WordOutcome::kExecutes : WordOutcome::kRefuses;
  }
  const int null = open("/dev/null", O_WRONLY);  // QEMU's last words are expected
  if (null >= 0) dup2(null, STDERR_FILENO);
  uc_mem_write(uc, kCode, &word, 4);
  uc_ctl_remove_cache(uc, kCode, kCode + 4);
  const uint8_t zero[16] = {};
  for (int r = UC_ARM64_REG_X0; r <= UC_ARM64_REG_X28; ++r) uc_reg_write(uc, r, zero);
  for (int r = UC_ARM64_REG_V0; r <= UC_ARM64_REG_V31; ++r) uc_reg_write(uc, r, zero);
  const uint64_t sp = kCode + 0x800;
  uc_reg_write(uc, UC_ARM64_REG_SP, &sp);
  const uc_err err = uc_emu_start(uc, kCode, kCode + 4, 0, 1);
  _exit(err != UC_ERR_INSN_INVALID && err != UC_ERR_EXCEPTION ? 0 : 1);
}

}  // namespace hph::test
