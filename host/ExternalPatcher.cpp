#include "host/ExternalPatcher.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include "host/AliasStore.h"
#include "host/MoveRetries.h"
#include "support/HexText.h"

namespace hph {
namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(10);
constexpr int kReleaseTries = 10000;

std::vector<pid_t> threadsOf(pid_t pid) {
  std::vector<pid_t> tids;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d))
      if (e->d_name[0] != '.') tids.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    closedir(d);
  }
  return tids;
}

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

}  // namespace

ExternalPatcher::ExternalPatcher(ExternalPatcher&& other) noexcept
    : target_(other.target_), tracees_(std::move(other.tracees_)), layout_(std::move(other.layout_)),
      alias_(std::exchange(other.alias_, nullptr)), total_(other.total_) {}

ExternalPatcher::~ExternalPatcher() {
  detach();
  if (alias_) munmap(alias_, total_);
}

std::optional<ExternalPatcher> ExternalPatcher::attach(pid_t target, const HostJob& job, std::string& error) {
  ExternalPatcher patcher;
  patcher.target_ = target;
  patcher.layout_ = memfdLayout(job);
  for (const HostMapping& m : patcher.layout_) patcher.total_ += m.size;
  patcher.total_ += kControlPageBytes;
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  int fd = -1;
  while ((fd = openGuestImages(target)) < 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      error = "the runner's guest-image memfd did not appear in /proc/" + std::to_string(target) + "/fd";
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // The runner creates the memfd, then sizes it: a mapping of it taken in between would
  // fault (SIGBUS) on its first touch, so wait for the size.
  for (struct stat st{}; fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < patcher.total_;) {
    if (std::chrono::steady_clock::now() > deadline) {
      close(fd);
      error = "the runner's guest-image memfd did not reach its size";
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void* alias = mmap(nullptr, patcher.total_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (alias == MAP_FAILED) {
    error = std::string("mmap of the runner's memfd: ") + std::strerror(errno);
    return std::nullopt;
  }
  patcher.alias_ = static_cast<uint8_t*>(alias);
  auto* control = reinterpret_cast<HostControl*>(patcher.alias_ + patcher.total_ - kControlPageBytes);
  while (__atomic_load_n(&control->ready, __ATOMIC_ACQUIRE) != 1) {
    if (std::chrono::steady_clock::now() > deadline) {
      error = "the runner's threads did not start";
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!patcher.seizeAll(error)) return std::nullopt;
  return patcher;
}

bool ExternalPatcher::parkAt(uint64_t pc, uint64_t maxSteps, std::string& error) {
  if (!stopAll(error)) return false;
  // Any thread but the runner's main one (whose tid is the process id) runs guest code.
  for (Tracee& t : tracees_) {
    if (t.tid == target_) continue;
    for (uint64_t step = 0; step < maxSteps; ++step) {
      if (pcOf(t) == pc) return true;
      if (ptrace(PTRACE_SINGLESTEP, t.tid, nullptr, nullptr) != 0) break;
      int status = 0;
      if (waitpid(t.tid, &status, __WALL) != t.tid || !WIFSTOPPED(status)) break;
      // A signal of its own (not the step's trap) is delivered when it continues.
      if (WSTOPSIG(status) != SIGTRAP) t.pendingSignal = WSTOPSIG(status);
    }
    error = "no thread reached " + std::to_string(pc) + " within " + std::to_string(maxSteps) + " single steps";
    return false;
  }
  error = "the runner has no guest thread to park";
  return false;
}

void ExternalPatcher::setPhase(PlanPhase phase) {
  auto* control = reinterpret_cast<HostControl*>(alias_ + total_ - kControlPageBytes);
  __atomic_store_n(&control->phase, static_cast<uint64_t>(phase), __ATOMIC_RELEASE);
}

bool ExternalPatcher::seizeAll(std::string& error) {
  // Threads may start while we seize: read the list again until it adds nobody.
  std::set<pid_t> seized;
  for (bool added = true; added;) {
    added = false;
    for (pid_t tid : threadsOf(target_)) {
      if (seized.count(tid)) continue;
      if (ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
        if (errno == ESRCH) continue;  // it ended meanwhile
        error = "PTRACE_SEIZE of thread " + std::to_string(tid) + ": " + std::strerror(errno) +
                " (is ptrace allowed here? kernel.yama.ptrace_scope)";
        return false;
      }
      seized.insert(tid);
      tracees_.push_back({tid});
      added = true;
    }
  }
  return true;
}

void ExternalPatcher::passSignals() {
  for (Tracee& t : tracees_) {
    if (t.stopped) continue;
    int status = 0;
    while (waitpid(t.tid, &status, WNOHANG | __WALL) == t.tid && WIFSTOPPED(status)) {
      const bool eventStop = (status >> 16) == PTRACE_EVENT_STOP;
      ptrace(PTRACE_CONT, t.tid, nullptr,
             reinterpret_cast<void*>(static_cast<intptr_t>(eventStop ? 0 : WSTOPSIG(status))));
    }
  }
}

bool ExternalPatcher::stopAll(std::string& error) {
  passSignals();
  for (Tracee& t : tracees_)
    if (!t.stopped) ptrace(PTRACE_INTERRUPT, t.tid, nullptr, nullptr);
  for (auto it = tracees_.begin(); it != tracees_.end();) {
    Tracee& t = *it;
    if (t.stopped) {
      ++it;
      continue;
    }
    int status = 0;
    if (waitpid(t.tid, &status, __WALL) != t.tid || WIFEXITED(status) || WIFSIGNALED(status)) {
      it = tracees_.erase(it);  // it ended
      continue;
    }
    t.stopped = true;
    // A signal it was about to take (not our interrupt) is delivered when it continues.
    if ((status >> 16) != PTRACE_EVENT_STOP) t.pendingSignal = WSTOPSIG(status);
    ++it;
  }
  (void)error;
  return true;
}

void ExternalPatcher::continueAll() {
  for (Tracee& t : tracees_) {
    if (!t.stopped) continue;
    ptrace(PTRACE_CONT, t.tid, nullptr, reinterpret_cast<void*>(static_cast<intptr_t>(t.pendingSignal)));
    t.stopped = false;
    t.pendingSignal = 0;
  }
}

void ExternalPatcher::detach() {
  if (tracees_.empty()) return;
  std::string ignored;
  stopAll(ignored);
  for (Tracee& t : tracees_)
    ptrace(PTRACE_DETACH, t.tid, nullptr, reinterpret_cast<void*>(static_cast<intptr_t>(t.pendingSignal)));
  tracees_.clear();
}

std::optional<uint64_t> ExternalPatcher::spOf(const Tracee& t) const {
  user_regs_struct regs{};
  iovec io{&regs, sizeof regs};
  if (ptrace(PTRACE_GETREGSET, t.tid, reinterpret_cast<void*>(NT_PRSTATUS), &io) != 0) return std::nullopt;
  return regs.rsp;
}

std::optional<std::string> ExternalPatcher::blockingReturnAddress(const MovePcStep& step) const {
  // Where each stack ends: the end of the mapping that holds the thread's SP.
  std::vector<std::pair<uint64_t, uint64_t>> mappings;
  {
    std::ifstream maps("/proc/" + std::to_string(target_) + "/maps");
    for (std::string line; std::getline(maps, line);) {
      unsigned long long from = 0, to = 0;
      if (std::sscanf(line.c_str(), "%llx-%llx", &from, &to) == 2) mappings.emplace_back(from, to);
    }
  }
  const int mem = open(("/proc/" + std::to_string(target_) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) return std::nullopt;
  std::optional<std::string> found;
  for (const Tracee& t : tracees_) {
    const auto sp = spOf(t);
    if (!sp || found) continue;
    uint64_t end = 0;
    for (const auto& [from, to] : mappings)
      if (*sp >= from && *sp < to) end = to;
    std::vector<uint64_t> words((end - std::min(end, *sp & ~uint64_t{7})) / 8);
    const ssize_t got = pread(mem, words.data(), words.size() * 8, static_cast<off_t>(*sp & ~uint64_t{7}));
    for (size_t w = 0; got > 0 && w < static_cast<size_t>(got) / 8; ++w)
      if (words[w] > step.from && words[w] < step.from + step.size) {
        char text[160];
        std::snprintf(text, sizeof text, "thread %d has return address %#llx on its stack at %#llx", t.tid,
                      static_cast<unsigned long long>(words[w]),
                      static_cast<unsigned long long>((*sp & ~uint64_t{7}) + w * 8));
        found = text;
        break;
      }
  }
  close(mem);
  return found;
}

std::optional<uint64_t> ExternalPatcher::pcOf(const Tracee& t) const {
#if defined(__x86_64__)
  user_regs_struct regs{};
  iovec io{&regs, sizeof regs};
  if (ptrace(PTRACE_GETREGSET, t.tid, reinterpret_cast<void*>(NT_PRSTATUS), &io) != 0) return std::nullopt;
  return regs.rip;
#else
#error "ExternalPatcher: only x86-64 so far"
#endif
}

bool ExternalPatcher::setPc(const Tracee& t, uint64_t pc) const {
  user_regs_struct regs{};
  iovec io{&regs, sizeof regs};
  if (ptrace(PTRACE_GETREGSET, t.tid, reinterpret_cast<void*>(NT_PRSTATUS), &io) != 0) return false;
  regs.rip = pc;
  return ptrace(PTRACE_SETREGSET, t.tid, reinterpret_cast<void*>(NT_PRSTATUS), &io) == 0;
}

uint8_t* ExternalPatcher::writable(uint64_t address, uint64_t size) const {
  for (const HostMapping& m : layout_)
    if (address >= m.address && address + size <= m.address + m.size) return alias_ + m.offset + (address - m.address);
  return nullptr;
}

bool ExternalPatcher::store(const StoreStep& step, std::string& error) {
  uint8_t* alias = writable(step.address, step.bytes.size());
  if (!alias) {
    error = "the store lies outside the runner's images";
    return false;
  }
  return storeThroughAlias(alias, step, error);
}

bool ExternalPatcher::apply(const Plan& plan, HostResult& result, std::string& error,
                            const std::function<void(size_t)>& afterStep) {
  using Clock = std::chrono::steady_clock;
  const auto begin = Clock::now();
  bool ok = true;
  MoveRetries retries;
  for (size_t i = 0; i < plan.steps.size() && ok; ++i) {
    const auto stepBegin = Clock::now();
    const Step& step = plan.steps[i];
    passSignals();
    if (const auto* s = std::get_if<StoreStep>(&step)) {
      ok = store(*s, error);
    } else if (std::holds_alternative<SyncAllStep>(step)) {
      ok = stopAll(error);
      continueAll();
    } else if (std::holds_alternative<SuspendAllStep>(step)) {
      ok = stopAll(error);
    } else if (std::holds_alternative<ResumeAllStep>(step)) {
      continueAll();
    } else if (const auto* m = std::get_if<MovePcStep>(&step)) {
      if (const auto blocker = blockingReturnAddress(*m)) {
        // As the emulator's plan and the in-process patcher: everyone runs on, and the
        // plan tries again from the suspend-all, then gives up (refused).
        continueAll();
        if (!retries.goBack(plan, i, *blocker, result, error)) return false;
        continue;
      }
      for (const Tracee& t : tracees_) {
        const auto pc = pcOf(t);
        if (!pc || !m->covers(*pc)) continue;
        const auto to = m->movedTo(*pc);
        if (!to || !setPc(t, *to)) {
          error = "thread " + std::to_string(t.tid) + " stopped inside an instruction of the displaced span";
          ok = false;
        }
      }
    } else if (const auto* r = std::get_if<ReleaseStep>(&step)) {
      bool inside = true;
      for (int attempt = 0; attempt < kReleaseTries && inside && ok; ++attempt) {
        ok = stopAll(error);
        inside = false;
        for (const Tracee& t : tracees_)
          if (const auto pc = pcOf(t); pc && *pc >= r->address && *pc < r->address + r->size) inside = true;
        continueAll();
        if (inside) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      if (inside && ok) {
        error = "a thread stayed inside the released range";
        ok = false;
      }
    }
    // cache-maintenance: instruction fetch is coherent on x86-64; nothing to do outside.
    result.stepNanoseconds.push_back(
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - stepBegin).count()));
    if (!ok) error = "step " + std::to_string(i + 1) + ": " + error;
    if (ok && afterStep) afterStep(i + 1);
  }
  if (!ok) continueAll();
  result.applyNanoseconds =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - begin).count());
  return ok;
}

}  // namespace hph
