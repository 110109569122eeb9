#include "host/ExternalPatcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "host/AgentPatcher.h"
#include "host/AliasStore.h"
#include "host/PtracePatcher.h"

namespace hph {
namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(10);

// The runner's guest-image memfd, opened through /proc/PID/fd (-1: none yet).
int openGuestImages(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  const std::string wanted = std::string("/memfd:") + kGuestImagesMemfd;
  int fd = -1;
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char target[256] = {};
      const std::string link = dir + "/" + e->d_name;
      if (readlink(link.c_str(), target, sizeof target - 1) > 0 && std::string(target).starts_with(wanted)) {
        fd = open(link.c_str(), O_RDWR | O_CLOEXEC);
        break;
      }
    }
    closedir(d);
  }
  return fd;
}

// Whether the runner ended (a zombie until hph reaps it, or gone): a runner that refused
// its job (a taken base, say) never starts its threads, and the patcher need not wait out
// its timeout for them.
bool runnerEnded(pid_t target) {
  std::ifstream stat("/proc/" + std::to_string(target) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const size_t paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] == 'Z' || text[paren + 2] == 'X';
}

}  // namespace

ExternalPatcher::~ExternalPatcher() {
  if (alias_) munmap(alias_, total_);
}

std::unique_ptr<ExternalPatcher> ExternalPatcher::attach(pid_t target, const HostJob& job, std::string& error) {
  std::unique_ptr<ExternalPatcher> patcher;
  if (threadsThroughAgent(job))
    patcher = std::make_unique<AgentPatcher>();
  else
    patcher = std::make_unique<PtracePatcher>();
  patcher->target_ = target;
  patcher->layout_ = memfdLayout(job);
  for (const HostMapping& m : patcher->layout_) patcher->total_ += m.size;
  patcher->total_ += kControlPageBytes;
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  int fd = -1;
  while ((fd = openGuestImages(target)) < 0) {
    if (runnerEnded(target)) {
      error = "the runner ended before its guest-image memfd appeared";
      return nullptr;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      error = "the runner's guest-image memfd did not appear in /proc/" + std::to_string(target) + "/fd";
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // The runner creates the memfd, then sizes it: a mapping of it taken in between would
  // fault (SIGBUS) on its first touch, so wait for the size.
  for (struct stat st{}; fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < patcher->total_;) {
    if (std::chrono::steady_clock::now() > deadline) {
      close(fd);
      error = "the runner's guest-image memfd did not reach its size";
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void* alias = mmap(nullptr, patcher->total_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (alias == MAP_FAILED) {
    error = std::string("mmap of the runner's memfd: ") + std::strerror(errno);
    return nullptr;
  }
  patcher->alias_ = static_cast<uint8_t*>(alias);
  while (__atomic_load_n(&patcher->control().ready, __ATOMIC_ACQUIRE) != 1) {
    if (runnerEnded(target)) {
      error = "the runner ended before its threads started";
      return nullptr;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      error = "the runner's threads did not start";
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!patcher->takeHold(error)) return nullptr;
  return patcher;
}

bool ExternalPatcher::parkAt(uint64_t, uint64_t, std::string& error) {
  error = "parking a thread needs ptrace single-steps, which reach only the x64 runner";
  return false;
}

void ExternalPatcher::setPhase(PlanPhase phase) {
  __atomic_store_n(&control().phase, static_cast<uint64_t>(phase), __ATOMIC_RELEASE);
}

bool ExternalPatcher::store(const StoreStep& step, std::string& error) {
  for (const HostMapping& m : layout_)
    if (step.address >= m.address && step.address + step.bytes.size() <= m.address + m.size)
      return storeThroughAlias(alias_ + m.offset + (step.address - m.address), step, error);
  error = "the store lies outside the runner's images";
  return false;
}

}  // namespace hph
