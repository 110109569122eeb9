#include "harness/WorkerProcess.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hph {
namespace {

// Writes all of `text` to `fd`; false when the reader is gone.
bool writeAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string signalName(int signal) {
  const char* abbreviation = sigabbrev_np(signal);
  const char* description = sigdescr_np(signal);
  return fmt::format("SIG{} ({})", abbreviation ? abbreviation : std::to_string(signal).c_str(),
                     description ? description : "unknown signal");
}

WorkerExit runInWorker(const std::function<std::string(WorkerBeacon&)>& work, const std::atomic<bool>& interrupted,
                       const std::function<int()>& interruptSignal) {
  WorkerExit exit;
  void* shared = mmap(nullptr, sizeof(WorkerBeacon), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) {
    exit.error = fmt::format("cannot map the worker's beacon: {}", std::strerror(errno));
    return exit;
  }
  auto* beacon = new (shared) WorkerBeacon();
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0) {
    exit.error = fmt::format("cannot open a pipe to the worker: {}", std::strerror(errno));
    munmap(shared, sizeof(WorkerBeacon));
    return exit;
  }
  // What the parent buffered must not be printed twice.
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    exit.error = fmt::format("cannot start a worker process: {}", std::strerror(errno));
    close(pipeFds[0]);
    close(pipeFds[1]);
    munmap(shared, sizeof(WorkerBeacon));
    return exit;
  }
  if (pid == 0) {
    close(pipeFds[0]);
    setpgid(0, 0);
    // A parent killed outright (SIGKILL) takes its worker with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const std::string output = work(*beacon);
    std::fflush(stdout);
    std::fflush(stderr);
    // _exit: the parent's atexit handlers and static objects are the parent's to run.
    _exit(writeAll(pipeFds[1], output) ? 0 : 126);
  }
  close(pipeFds[1]);
  std::string output;
  bool forwarded = false;
  char buffer[1 << 14];
  for (;;) {
    if (!forwarded && interrupted.load()) {
      kill(pid, interruptSignal());
      forwarded = true;
    }
    pollfd readable{pipeFds[0], POLLIN, 0};
    const int ready = poll(&readable, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    const ssize_t n = read(pipeFds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buffer, static_cast<size_t>(n));
  }
  close(pipeFds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  exit.schedules = beacon->schedules.load();
  exit.seconds = static_cast<double>(beacon->milliseconds.load()) / 1000.0;
  munmap(shared, sizeof(WorkerBeacon));
  if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    exit.output = std::move(output);
  } else {
    exit.exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return exit;
}

}  // namespace hph
