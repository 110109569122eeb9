#include "host/PtracePatcher.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace hph {
namespace {

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

// Whether thread `tid` is gone or exiting (state Z or X in its stat line).
bool exiting(pid_t pid, pid_t tid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z' || line[close + 2] == 'X';
}

}  // namespace

bool PtracePatcher::parkAt(uint64_t pc, uint64_t maxSteps, std::string& error) {
  if (!suspendAll(error)) return false;
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

bool PtracePatcher::takeHold(std::string& error) {
  // Threads may start while we seize: read the list again until it adds nobody.
  while (true) {
    const size_t known = tracees_.size();
    if (!seizeNew(error)) return false;
    if (tracees_.size() == known) return true;
  }
}

bool PtracePatcher::seizeNew(std::string& error) {
  for (pid_t tid : threadsOf(target_)) {
    if (std::any_of(tracees_.begin(), tracees_.end(), [&](const Tracee& t) { return t.tid == tid; })) continue;
    if (ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
      // It ended meanwhile: gone (ESRCH), or exiting, which the kernel refuses with EPERM
      // while the task list still names it (a spawned thread ends on every call).
      if (errno == ESRCH || (errno == EPERM && exiting(target_, tid))) continue;
      error = "PTRACE_SEIZE of thread " + std::to_string(tid) + ": " + std::strerror(errno) +
              " (is ptrace allowed here? kernel.yama.ptrace_scope)";
      return false;
    }
    tracees_.push_back({tid});
  }
  return true;
}

void PtracePatcher::beforeStep() {
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

bool PtracePatcher::suspendAll(std::string& error) {
  beforeStep();
  // Threads the guest created since (CreateThread) are seized and stopped too: read the
  // task list again once everyone known is stopped, until it names nobody new. With every
  // listed thread stopped, no thread is left to create another.
  for (bool added = true; added;) {
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
    if (!seizeNew(error)) return false;
    added = std::any_of(tracees_.begin(), tracees_.end(), [](const Tracee& t) { return !t.stopped; });
  }
  return true;
}

void PtracePatcher::resumeAll() {
  for (Tracee& t : tracees_) {
    if (!t.stopped) continue;
    ptrace(PTRACE_CONT, t.tid, nullptr, reinterpret_cast<void*>(static_cast<intptr_t>(t.pendingSignal)));
    t.stopped = false;
    t.pendingSignal = 0;
  }
}

void PtracePatcher::detach() {
  if (tracees_.empty()) return;
  std::string ignored;
  suspendAll(ignored);
  for (Tracee& t : tracees_)
    ptrace(PTRACE_DETACH, t.tid, nullptr, reinterpret_cast<void*>(static_cast<intptr_t>(t.pendingSignal)));
  tracees_.clear();
}

std::optional<uint64_t> PtracePatcher::spOf(const Tracee& t) const {
  user_regs_struct regs{};
  iovec io{&regs, sizeof regs};
  if (ptrace(PTRACE_GETREGSET, t.tid, reinterpret_cast<void*>(NT_PRSTATUS), &io) != 0) return std::nullopt;
  return regs.rsp;
}

bool PtracePatcher::returnAddressInside(uint64_t from, uint64_t size, std::optional<std::string>& found,
                                        std::string& error) {
  found.reset();
  // Where each stack ends: the end of the mapping that holds the thread's SP.
  std::vector<std::pair<uint64_t, uint64_t>> mappings;
  {
    std::ifstream maps("/proc/" + std::to_string(target_) + "/maps");
    for (std::string line; std::getline(maps, line);) {
      unsigned long long begin = 0, stop = 0;
      if (std::sscanf(line.c_str(), "%llx-%llx", &begin, &stop) == 2) mappings.emplace_back(begin, stop);
    }
  }
  const int mem = open(("/proc/" + std::to_string(target_) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) {
    error = "cannot read the threads' stacks: /proc/" + std::to_string(target_) + "/mem: " + std::strerror(errno);
    return false;
  }
  for (const Tracee& t : tracees_) {
    const auto sp = spOf(t);
    if (!sp || found) continue;
    uint64_t end = 0;
    for (const auto& [begin, stop] : mappings)
      if (*sp >= begin && *sp < stop) end = stop;
    std::vector<uint64_t> words((end - std::min(end, *sp & ~uint64_t{7})) / 8);
    const ssize_t got = pread(mem, words.data(), words.size() * 8, static_cast<off_t>(*sp & ~uint64_t{7}));
    for (size_t w = 0; got > 0 && w < static_cast<size_t>(got) / 8; ++w)
      if (words[w] > from && words[w] < from + size) {
        char text[160];
        std::snprintf(text, sizeof text, "thread %d has return address %#llx on its stack at %#llx", t.tid,
                      static_cast<unsigned long long>(words[w]),
                      static_cast<unsigned long long>((*sp & ~uint64_t{7}) + w * 8));
        found = text;
        break;
      }
  }
  close(mem);
  return true;
}

std::optional<uint64_t> PtracePatcher::pcOf(const Tracee& t) const {
#if defined(__x86_64__)
  user_regs_struct regs{};
  iovec io{&regs, sizeof regs};
  if (ptrace(PTRACE_GETREGSET, t.tid, reinterpret_cast<void*>(NT_PRSTATUS), &io) != 0) return std::nullopt;
  return regs.rip;
#else
#error "PtracePatcher reads x86-64 registers: the arm64 runner goes through the agent (AgentPatcher)"
#endif
}

bool PtracePatcher::setPc(const StoppedThread& thread, uint64_t pc, std::string& error) {
  user_regs_struct regs{};
  iovec io{&regs, sizeof regs};
  const auto tid = static_cast<pid_t>(thread.id);
  if (ptrace(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_PRSTATUS), &io) == 0) {
    regs.rip = pc;
    if (ptrace(PTRACE_SETREGSET, tid, reinterpret_cast<void*>(NT_PRSTATUS), &io) == 0) return true;
  }
  error = "thread " + std::to_string(tid) + ": PTRACE_SETREGSET: " + std::strerror(errno);
  return false;
}

bool PtracePatcher::syncAll(std::string& error) {
  if (!suspendAll(error)) return false;
  resumeAll();
  return true;
}

std::vector<StoppedThread> PtracePatcher::stoppedThreads() {
  std::vector<StoppedThread> stopped;
  for (const Tracee& t : tracees_)
    if (const auto pc = t.stopped ? pcOf(t) : std::nullopt) stopped.push_back({static_cast<uint64_t>(t.tid), *pc});
  return stopped;
}

}  // namespace hph
