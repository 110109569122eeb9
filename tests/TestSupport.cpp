#include "tests/TestSupport.h"

#include "harness/explore/ReplaySource.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace hph::test {

std::string corpusImage(const std::string& name) { return std::string(HPH_CORPUS_DIR) + "/images/" + name; }

std::string corpusScenario(const std::string& name) {
  if (name.starts_with("/")) return name;  // a variant (scenarioVariant) or another file
  return std::string(HPH_CORPUS_DIR) + "/scenarios/" + name;
}

std::string scenarioVariant(const std::string& name, const std::vector<std::pair<std::string, std::string>>& edits,
                            const std::string& as, OnHostTable onHost) {
  const auto bytes = readFile(corpusScenario(name));
  std::string text(bytes.begin(), bytes.end());
  text = std::regex_replace(text, std::regex("\\.\\./images/"), std::string(HPH_CORPUS_DIR) + "/images/");
  // Variants run under emulation with other images or patches: the [onhost] counters of
  // the original (hph onhost's alone) may name functions the variant does not have.
  if (onHost == OnHostTable::kStrip)
    text =
        std::regex_replace(text, std::regex("\n# hph onhost tells[^\n]*\n\\[onhost\\]\n([a-z_]+ = [^\n]*\n)*"), "\n");
  for (const auto& [from, to] : edits) {
    // An edit that changes nothing would leave the test checking the unedited scenario.
    if (!std::regex_search(text, std::regex(from)))
      ADD_FAILURE() << "scenarioVariant(" << name << "): the edit '" << from << "' matches nothing";
    text = std::regex_replace(text, std::regex(from), to);
  }
  return writeTempFile(as.empty() ? "variant-" + name : as, {text.begin(), text.end()});
}

std::vector<uint8_t> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string writeTempFile(const std::string& name, const std::vector<uint8_t>& bytes) {
  const auto dir = std::filesystem::temp_directory_path() / ("hph-tests-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return path;
}

uint64_t LoadedCorpusImage::address(const std::string& function) const {
  const FunctionInfo* f = image.findFunction(function);
  EXPECT_NE(f, nullptr) << function;
  return f ? loaded.address(f->begin) : 0;
}

std::unique_ptr<LoadedCorpusImage> loadCorpusImage(const std::string& name, std::optional<uint64_t> base) {
  auto out = std::make_unique<LoadedCorpusImage>();
  auto image = readPeImage(corpusImage(name));
  if (!image) {
    ADD_FAILURE() << image.error().message;
    return nullptr;
  }
  out->image = std::move(image).value();
  auto machine = Machine::create(*out->image.arch);
  if (!machine) {
    ADD_FAILURE() << machine.error().message;
    return nullptr;
  }
  out->machine = std::move(machine).value();
  auto loaded = loadImage(*out->machine, out->image, base);
  if (!loaded) {
    ADD_FAILURE() << loaded.error().message;
    return nullptr;
  }
  out->loaded = *loaded;
  return out;
}

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

std::shared_ptr<const ScenarioInputs> preparedScenario(const std::string& path,
                                                       const std::function<void(Scenario&)>& adjust) {
  auto s = loadScenario(path);
  EXPECT_TRUE(s.ok()) << s.error().message;
  if (!s) return nullptr;
  if (adjust) adjust(*s);
  auto inputs = prepareScenario(*s);
  EXPECT_TRUE(inputs.ok()) << inputs.error().message;
  return inputs ? *inputs : nullptr;
}

std::vector<std::pair<uint64_t, ActorId>> patcherFirst(const Plan& plan) {
  std::vector<std::pair<uint64_t, ActorId>> decisions;
  for (uint64_t i = 0; i < plan.steps.size(); ++i) decisions.emplace_back(i, kPatcher);
  return decisions;
}

uint64_t callAfterPatching(const std::string& path, size_t index, const std::string& function, uint64_t* invariant) {
  auto inputs = preparedScenario(path);
  if (!inputs) return 0;
  auto session = Session::create(inputs, false);
  EXPECT_TRUE(session.ok());
  if (!session) return 0;
  ReplaySource schedule(patcherFirst(inputs->plan));
  const RunRecord run = (*session)->run(schedule);
  EXPECT_FALSE(run.violation) << path << ": " << run.violation->message;
  if (invariant) *invariant = run.invariantValue.value_or(0);
  const PatchImage& patch = inputs->layout.patches.at(index);
  auto value = (*session)->machine().call(patch.loadAddress + patch.image->findFunction(function)->begin, {});
  EXPECT_TRUE(value.ok() && value->completed());
  return value.ok() ? value->value : 0;
}

namespace {

// Sends `signal` to the child once its stderr holds `cue`.
struct SignalCue {
  std::string cue;
  int signal = 0;
};

CommandResult runChild(const std::string& program, const std::vector<std::string>& args, double timeoutSeconds,
                       const SignalCue* cue);

}  // namespace

CommandResult runHph(const std::vector<std::string>& args, double timeoutSeconds) {
  return runProgram(HPH_BINARY, args, timeoutSeconds);
}

CommandResult runHphSignalledOn(const std::vector<std::string>& args, const std::string& cue, int signal,
                                double timeoutSeconds) {
  const SignalCue signalCue{cue, signal};
  return runChild(HPH_BINARY, args, timeoutSeconds, &signalCue);
}

CommandResult runProgram(const std::string& program, const std::vector<std::string>& args, double timeoutSeconds) {
  return runChild(program, args, timeoutSeconds, nullptr);
}

namespace {

CommandResult runChild(const std::string& program, const std::vector<std::string>& args, double timeoutSeconds,
                       const SignalCue* cue) {
  const std::string out = writeTempFile("stdout.txt", {});
  const std::string err = writeTempFile("stderr.txt", {});
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // its own group: a timeout kills whatever it started too
    // A sharded test run (GTEST_SHARD_INDEX, ...) must not shard the hph it starts.
    for (const char* v :
         {"GTEST_SHARD_INDEX", "GTEST_TOTAL_SHARDS", "GTEST_SHARD_STATUS_FILE", "TEST_SHARD_INDEX", "TEST_TOTAL_SHARDS",
          "TEST_SHARD_STATUS_FILE", "CI_NODE_INDEX", "CI_NODE_TOTAL", "JOB_COMPLETION_INDEX"})
      unsetenv(v);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!freopen("/dev/null", "r", stdin) || !freopen(out.c_str(), "w", stdout) || !freopen(err.c_str(), "w", stderr))
      _exit(127);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  CommandResult result;
  if (timeoutSeconds > 0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeoutSeconds);
    bool signalled = false;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (cue && !signalled && slurp(err).find(cue->cue) != std::string::npos) {
        kill(pid, cue->signal);
        signalled = true;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        result.timedOut = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } else {
    waitpid(pid, &status, 0);
  }
  // A crash (signal) is reported as 128+signal so tests can tell it from an exit code.
  result.exitCode = result.timedOut ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(out);
  result.err = slurp(err);
  return result;
}

}  // namespace

std::string boundedScenarioName(const BoundedScenario& c) {
  std::string name = c.scenario;
  name = name.substr(0, name.find(".toml"));
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name + "_bound" + std::to_string(c.bound);
}

}  // namespace hph::test
