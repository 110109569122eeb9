// What applying a patch costs on the host, side by side in one run:
//   Apply/<protocol>/<patcher>/threads:N  `hph onhost --applications 100`: the plan's
//       forward steps applied (and undone) 100 times while N real threads call the
//       patched function; counters p50_us / p99_us / max_us of the forward application,
//       from "apply" to its last step done (every thread then runs new code: a live
//       store is the switch; stop-the-world's resume is its last step), and the worker
//       stall: stall_p99_us / stall_max_us of the threads' calls while applying against
//       steady_p99_us / steady_max_us of those before and after.
//   Apply/arm64-emulated/<protocol>/<patcher>/threads:N  the same for the Arm64 plans,
//       run by hph-host-aarch64 under qemu-aarch64: emulated figures, labelled so.
//   Apply/gdb-by-hand/threads:N  what a user would do by hand: padding-short-jmp's bytes
//       written by `gdb -p PID -batch -ex 'set {unsigned char[N]}ADDR = {...}'` into a
//       runner whose images are mapped private (Linux refuses a debugger's write to a
//       shared read-only mapping), 5 times; p50_us / max_us of gdb's whole run.
//   Floor/threads:N  the least any live patch costs in-process: one aligned 4-byte store
//       and membarrier(PRIVATE_EXPEDITED_SYNC_CORE), with N threads spinning on calls.
// Each Apply iteration is one `hph onhost` run (Iterations(1)); the plans are the
// corpus's, verified by the test suite (--unverified here, so exploring is not timed).
#include <benchmark/benchmark.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string corpusScenario(const std::string& protocol, const std::string& arch = "x64") {
  return std::string(HPH_CORPUS_DIR) + "/scenarios/patch-" + protocol + "." + arch + ".toml";
}

// Starts `program` with `args`, stdout to `out` (or /dev/null) and stderr to /dev/null.
pid_t spawn(const char* program, const std::vector<std::string>& args, const char* out = "/dev/null") {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv{const_cast<char*>(program)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!freopen(out, "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
    execvp(program, argv.data());
    _exit(127);
  }
  return pid;
}

int waitFor(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int runHph(const std::vector<std::string>& args) { return waitFor(spawn(HPH_BINARY, args)); }

nlohmann::json readJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, false);
}

void Apply(benchmark::State& state, const std::string& protocol, const std::string& patcher, const std::string& arch) {
  const std::string threads = std::to_string(state.range(0));
  const std::string json = "/tmp/hph-onhost-bench-" + std::to_string(getpid()) + ".json";
  nlohmann::json report;
  for (auto _ : state) {
    if (runHph({"onhost", corpusScenario(protocol, arch), "--unverified", "--applications", "100", "--patcher", patcher,
                "--threads", threads, "--duration", "1", "--json", json}) != 0) {
      state.SkipWithError("hph onhost failed");
      return;
    }
    report = readJson(json)["scenarios"][0];
  }
  std::remove(json.c_str());
  state.counters["applications"] = report["applications"].get<double>();
  state.counters["p50_us"] = report["apply_ns_p50"].get<double>() / 1000.0;
  state.counters["p99_us"] = report["apply_ns_p99"].get<double>() / 1000.0;
  state.counters["max_us"] = report["apply_ns_max"].get<double>() / 1000.0;
  const nlohmann::json& calls = report["call_ns"];
  state.counters["stall_p99_us"] = calls["during_apply"]["p99"].get<double>() / 1000.0;
  state.counters["stall_max_us"] = calls["during_apply"]["max"].get<double>() / 1000.0;
  state.counters["steady_p99_us"] = calls["steady"]["p99"].get<double>() / 1000.0;
  state.counters["steady_max_us"] = calls["steady"]["max"].get<double>() / 1000.0;
}

// The by-hand baseline: the job hph onhost would run, with no patcher of its own and the
// images private; gdb writes the plan's stores, as a user would from `hph plan`.
void ApplyByGdb(benchmark::State& state) {
  const std::string threads = std::to_string(state.range(0));
  const std::string dir = "/tmp/hph-gdb-bench-" + std::to_string(getpid());
  const std::string jobPath = dir + ".job.json", idlePath = dir + ".idle.json", outPath = dir + ".out.json";
  if (runHph({"onhost", corpusScenario("padding-short-jmp"), "--unverified", "--threads", threads, "--duration", "0.05",
              "--job", jobPath}) != 0) {
    state.SkipWithError("hph onhost --job failed");
    return;
  }
  nlohmann::json job = readJson(jobPath);
  std::vector<std::string> gdb{"-p", "", "-batch"};
  for (const nlohmann::json& step : job["plan"]) {
    if (step.value("kind", "") != "store") continue;
    const std::string hex = step["bytes"].get<std::string>();
    std::string bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes += (bytes.empty() ? "0x" : ", 0x") + hex.substr(i, 2);
    gdb.push_back("-ex");
    gdb.push_back("set {unsigned char[" + std::to_string(hex.size() / 2) + "]}" +
                  std::to_string(step["address"].get<uint64_t>()) + " = {" + bytes + "}");
  }
  job["plan"] = nlohmann::json::array();
  job["private_images"] = true;
  job["apply_at_ms"] = 0;
  job["duration_ms"] = 600000;  // ended by a signal once gdb is done
  std::ofstream(idlePath) << job.dump();
  const pid_t runner = spawn(HPH_HOST_BINARY, {idlePath}, outPath.c_str());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  gdb[1] = std::to_string(runner);
  std::vector<double> us;
  for (auto _ : state) {
    for (int i = 0; i < 5; ++i) {
      const auto begin = std::chrono::steady_clock::now();
      if (waitFor(spawn("gdb", gdb)) != 0) {
        state.SkipWithError("gdb failed (is Debian's gdb installed?)");
        break;
      }
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - begin).count());
    }
  }
  kill(runner, SIGKILL);
  waitFor(runner);
  for (const std::string& p : {jobPath, idlePath, outPath}) std::remove(p.c_str());
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  state.counters["applications"] = static_cast<double>(us.size());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["max_us"] = us.back();
}

// Threads that keep their cores busy, as the runner's calling threads do.
class SpinningThreads {
 public:
  explicit SpinningThreads(int64_t count) {
    for (int64_t i = 0; i < count; ++i)
      threads_.emplace_back([this] {
        // A count of its own: threads contending for one cache line would slow the IPIs.
        uint64_t spins = 0;
        while (!stop_.load(std::memory_order_relaxed)) benchmark::DoNotOptimize(++spins);
      });
  }
  ~SpinningThreads() {
    stop_.store(true);
    for (std::thread& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

void Floor(benchmark::State& state) {
  if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) != 0) {
    state.SkipWithError("no membarrier SYNC_CORE on this kernel");
    return;
  }
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  auto* word = static_cast<uint32_t*>(page);
  SpinningThreads threads(state.range(0));
  uint32_t value = 0x14000000;  // an Arm64 `b .`: the shape of a live branch store
  for (auto _ : state) {
    __atomic_store_n(word, value ^= 1, __ATOMIC_RELEASE);
    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0);
  }
  munmap(page, 4096);
}

// Every row at 1, 4 and 16 threads, one iteration (one hph onhost run, or 5 gdb runs).
benchmark::internal::Benchmark* atThreadCounts(benchmark::internal::Benchmark* b) {
  return b->ArgName("threads")->Arg(1)->Arg(4)->Arg(16)->UseRealTime();
}

void registerAll() {
  for (const char* protocol : {"padding-short-jmp", "int3-3step", "stop-the-world"})
    for (const char* patcher : {"in-process", "external"})
      atThreadCounts(benchmark::RegisterBenchmark((std::string("Apply/") + protocol + "/" + patcher).c_str(), Apply,
                                                  std::string(protocol), std::string(patcher), std::string("x64")))
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
  // Arm64 under qemu-aarch64 on this x86-64 machine: emulated, not what hardware costs.
  // The external patcher reaches the threads there through the runner's agent.
  for (const char* protocol : {"b-direct", "veneer", "literal-swap", "stop-the-world"})
    for (const char* patcher : {"in-process", "external"})
      atThreadCounts(
          benchmark::RegisterBenchmark((std::string("Apply/arm64-emulated/") + protocol + "/" + patcher).c_str(), Apply,
                                       std::string(protocol), std::string(patcher), std::string("arm64")))
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
  atThreadCounts(benchmark::RegisterBenchmark("Apply/gdb-by-hand", ApplyByGdb))
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  atThreadCounts(benchmark::RegisterBenchmark("Floor", Floor))->Unit(benchmark::kMicrosecond);
}

const bool registered = (registerAll(), true);

}  // namespace
