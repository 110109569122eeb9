#include "tests/UnicornProbe.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unicorn/unicorn.h>
#include <unistd.h>

#include <algorithm>
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

uc_engine* bareX64Engine() {
  thread_local uc_engine* uc = [] {
    uc_engine* e = nullptr;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &e) != UC_ERR_OK) return static_cast<uc_engine*>(nullptr);
    uc_mem_map(e, kCode, 0x1000, UC_PROT_ALL);
    return e;
  }();
  return uc;
}

// Runs `child` in a forked process: its exit status 0 executes, another refuses, a
// signal aborts.
template <typename Child> WordOutcome inChild(Child child) {
  const pid_t pid = fork();
  if (pid < 0) return WordOutcome::kAborts;
  if (pid > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status)) return WordOutcome::kAborts;
    return WEXITSTATUS(status) == 0 ? WordOutcome::kExecutes : WordOutcome::kRefuses;
  }
  const int null = open("/dev/null", O_WRONLY);  // QEMU's last words are expected
  if (null >= 0) dup2(null, STDERR_FILENO);
  _exit(child());
}

}  // namespace

WordOutcome probeX64Code(std::span<const uint8_t> code) {
  uc_engine* uc = bareX64Engine();
  if (!uc) return WordOutcome::kAborts;
  return inChild([&] {
    uint8_t page[64] = {};
    std::copy(code.begin(), code.begin() + std::min<size_t>(code.size(), 48), page);
    uc_mem_write(uc, kCode, page, sizeof page);
    const uint64_t zero = 0, sp = kCode + 0x800;
    for (int r : {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RSI, UC_X86_REG_RDI,
                  UC_X86_REG_RBP})
      uc_reg_write(uc, r, &zero);
    uc_reg_write(uc, UC_X86_REG_RSP, &sp);
    const uc_err err = uc_emu_start(uc, kCode, kCode + 48, 0, 1);
    return err != UC_ERR_INSN_INVALID && err != UC_ERR_EXCEPTION ? 0 : 1;
  });
}

WordOutcome probeArm64Word(uint32_t word) {
  uc_engine* uc = bareEngine();
  if (!uc) return WordOutcome::kAborts;
  return inChild([&] {
    uc_mem_write(uc, kCode, &word, 4);
    uc_ctl_remove_cache(uc, kCode, kCode + 4);
    const uint8_t zero[16] = {};
    for (int r = UC_ARM64_REG_X0; r <= UC_ARM64_REG_X28; ++r) uc_reg_write(uc, r, zero);
    for (int r = UC_ARM64_REG_V0; r <= UC_ARM64_REG_V31; ++r) uc_reg_write(uc, r, zero);
    const uint64_t sp = kCode + 0x800;
    uc_reg_write(uc, UC_ARM64_REG_SP, &sp);
    const uc_err err = uc_emu_start(uc, kCode, kCode + 4, 0, 1);
    return err != UC_ERR_INSN_INVALID && err != UC_ERR_EXCEPTION ? 0 : 1;
  });
}

}  // namespace hph::test
