#include "harness/gate/ChildCommand.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

extern char** environ;

namespace hph {

ChildExit runHphCommand(const std::vector<std::string>& args, const std::string& stdoutPath,
                        const std::vector<std::string>& unset, const std::atomic<bool>* interrupted) {
  ChildExit out;
  std::vector<std::string> argv{"hph"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (std::string& a : argv) pointers.push_back(a.data());
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const int addopen =
      posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> environment;
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    if (std::find(unset.begin(), unset.end(), name) == unset.end()) environment.push_back(*e);
  }
  environment.push_back(nullptr);
  // A process group of its own: a terminal's Ctrl-C reaches the gate alone, which passes
  // it on once (the command's own handler takes a second signal as "die now").
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = 0;
  // The running binary itself, wherever it was started from.
  const int started =
      addopen != 0 ? addopen
                   : posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, pointers.data(), environment.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (started != 0) {
    out.error = std::strerror(started);
    return out;
  }
  int status = 0;
  bool passedOn = false;
  for (;;) {
    const pid_t ended = waitpid(pid, &status, WNOHANG);
    if (ended == pid) break;
    if (ended < 0 && errno != EINTR) {
      out.error = std::strerror(errno);
      return out;
    }
    if (interrupted && *interrupted && !passedOn) {
      kill(-pid, SIGINT);  // its group: the runners hph onhost started too
      passedOn = true;
    }
    usleep(20'000);  // a stage runs for seconds: polling costs nothing and needs no handler
  }
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

}  // namespace hph
