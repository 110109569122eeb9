// Shared helpers for the tests: corpus paths, loaded corpus images, running the CLI.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "emu/core/Machine.h"
#include "emu/pe/ImageLoader.h"
#include "emu/pe/PeImage.h"
#include "harness/explore/Session.h"

// A test that cannot hold in a build under AddressSanitizer, for a reason of ASan's own
// (it reserves terabytes of address space for its shadow, and lays memory out itself) is
// skipped there, saying why; every other test runs in that build too (CMakePresets.json,
// `sanitize`). GCC says it compiles for ASan by __SANITIZE_ADDRESS__, clang by
// __has_feature: a build whose flags ask for it is such a build, however they were given.
#if defined(__SANITIZE_ADDRESS__)
#define HPH_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HPH_UNDER_ASAN 1
#endif
#endif
#ifdef HPH_UNDER_ASAN
#define HPH_SKIP_UNDER_ASAN(why) GTEST_SKIP() << "under AddressSanitizer: " << (why)
#else
#define HPH_SKIP_UNDER_ASAN(why) static_cast<void>(0)
#endif

namespace hph::test {

// Guest memory for an analysis (the liveness walks' golden cases), byte by byte: what a
// GuestRead over it finds; unmapped elsewhere.
struct GuestBytes {
  std::map<uint64_t, uint8_t> bytes;
  void put(uint64_t at, std::span<const uint8_t> code) {
    for (size_t i = 0; i < code.size(); ++i) bytes[at + i] = code[i];
  }
  GuestRead reader() const {
    return [this](uint64_t address, std::span<uint8_t> out) {
      for (size_t i = 0; i < out.size(); ++i) {
        const auto it = bytes.find(address + i);
        if (it == bytes.end()) return false;
        out[i] = it->second;
      }
      return true;
    };
  }
};

// A corpus scenario explored exhaustively at a bound with some number of threads: the
// parameter of the tests that compare two searches of it.
struct BoundedScenario {
  const char* scenario;  // "race.x64.toml"
  uint32_t bound;
  uint32_t threads;
};
// Its test name: "race_x64_bound2".
std::string boundedScenarioName(const BoundedScenario& c);

// Calls each thread of the corpus's patch scenarios makes (counter.c PATCH_WORKER_CALLS).
inline constexpr uint64_t kPatchWorkerCalls = 2;

std::string corpusImage(const std::string& name);     // "basics.x64.dll" -> full path
std::string corpusScenario(const std::string& name);  // "race.x64.toml" -> full path (absolute: as is)
// A corpus scenario's text with its image paths made absolute, then each (regex, with)
// edit applied, written to a temporary file of that name: its path. Its [onhost] counters
// are left out unless kept: a variant with other images may not have them (the gate's
// variants, of the release's own images, keep them).
enum class OnHostTable { kStrip, kKeep };
std::string scenarioVariant(const std::string& name, const std::vector<std::pair<std::string, std::string>>& edits,
                            const std::string& as = "", OnHostTable onHost = OnHostTable::kStrip);
std::vector<uint8_t> readFile(const std::string& path);
std::string writeTempFile(const std::string& name, const std::vector<uint8_t>& bytes);

// An image read and loaded into a fresh Machine (asserts on failure).
struct LoadedCorpusImage {
  PeImage image;
  std::unique_ptr<Machine> machine;
  LoadedImage loaded;
  uint64_t address(const std::string& function) const;
};
std::unique_ptr<LoadedCorpusImage> loadCorpusImage(const std::string& name,
                                                   std::optional<uint64_t> base = std::nullopt);

// A scenario loaded, adjusted by the test, and prepared (asserts on failure: nullptr then).
std::shared_ptr<const ScenarioInputs> preparedScenario(const std::string& path,
                                                       const std::function<void(Scenario&)>& adjust = {});
// The decisions that run every step of the plan before any thread runs.
std::vector<std::pair<uint64_t, ActorId>> patcherFirst(const Plan& plan);
// The whole plan first, then the threads; then `function` of patch image `index` is
// called on the same machine and its result returned (0 after a failed expectation).
uint64_t callAfterPatching(const std::string& path, size_t index, const std::string& function,
                           uint64_t* invariant = nullptr);

struct CommandResult {
  int exitCode = -1;  // 128 + signal for a crash; -1 when killed for taking too long
  std::string out;
  std::string err;
  bool timedOut = false;
};
// Runs the hph binary with these arguments (no shell quoting needed for corpus paths).
// With timeoutSeconds > 0 a run still going then is killed (timedOut, exit code -1).
CommandResult runHph(const std::vector<std::string>& args, double timeoutSeconds = 0);
// Any program by path (no shell; stdin is /dev/null): exit code 127 when it cannot be run.
CommandResult runProgram(const std::string& program, const std::vector<std::string>& args, double timeoutSeconds = 0);
// Runs hph and sends it `signal` once its stderr holds `cue` (a line it prints when it is
// far enough along), so the test does not guess how long a cold start takes.
CommandResult runHphSignalledOn(const std::vector<std::string>& args, const std::string& cue, int signal,
                                double timeoutSeconds);

}  // namespace hph::test
