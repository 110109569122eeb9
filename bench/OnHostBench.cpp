// What applying a patch costs on the host, side by side in one run:
//   Apply/<protocol>/<patcher>/threads:N  `hph onhost --applications 100`: the plan's
//       forward steps applied (and undone) 100 times while N real threads call the
//       patched function; counters p50_us / p99_us / max_us of the forward application,
//       from "apply" to its last step done (every thread then runs new code: a live
//       store is the switch; stop-the-world's resume is its last step).
// Each iteration is one `hph onhost` run (Iterations(1)); the plans are the corpus's,
// verified by the test suite (--unverified here, so exploring is not timed).
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string corpusScenario(const std::string& protocol) {
  return std::string(HPH_CORPUS_DIR) + "/scenarios/patch-" + protocol + ".x64.toml";
}

// Runs hph with `args`, stdout and stderr to /dev/null; its exit code.
int runHph(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv{const_cast<char*>(HPH_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
    execv(HPH_BINARY, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void Apply(benchmark::State& state, const std::string& protocol, const std::string& patcher) {
  const std::string threads = std::to_string(state.range(0));
  const std::string json = "/tmp/hph-onhost-bench-" + std::to_string(getpid()) + ".json";
  nlohmann::json report;
  for (auto _ : state) {
    if (runHph({"onhost", corpusScenario(protocol), "--unverified", "--applications", "100", "--patcher", patcher,
                "--threads", threads, "--duration", "1", "--json", json}) != 0) {
      state.SkipWithError("hph onhost failed");
      return;
    }
    std::ifstream in(json);
    std::stringstream text;
    text << in.rdbuf();
    report = nlohmann::json::parse(text.str())["scenarios"][0];
  }
  std::remove(json.c_str());
  state.counters["applications"] = report["applications"].get<double>();
  state.counters["p50_us"] = report["apply_ns_p50"].get<double>() / 1000.0;
  state.counters["p99_us"] = report["apply_ns_p99"].get<double>() / 1000.0;
  state.counters["max_us"] = report["apply_ns_max"].get<double>() / 1000.0;
}

void registerAll() {
  for (const char* protocol : {"padding-short-jmp", "int3-3step", "stop-the-world"})
    for (const char* patcher : {"in-process", "external"})
      benchmark::RegisterBenchmark((std::string("Apply/") + protocol + "/" + patcher).c_str(), Apply,
                                   std::string(protocol), std::string(patcher))
          ->ArgName("threads")
          ->Arg(1)
          ->Arg(4)
          ->Arg(16)
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
}

const bool registered = (registerAll(), true);

}  // namespace
