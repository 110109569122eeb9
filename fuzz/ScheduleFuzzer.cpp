// libFuzzer target, end to end: the input's bytes choose the schedule decisions of one
// scenario (threads calling the patched function while the patcher applies the plan),
// and any property violation is a crash. On a safe protocol nothing may be found; on an
// unsafe one (HPH_FUZZ_SCENARIO=corpus/scenarios/patch-naive-jmp5.x64.toml) the fuzzer
// finds the violation from an empty corpus. The scenario: HPH_FUZZ_SCENARIO, else the
// bundled padding-short-jmp.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "harness/explore/Session.h"
#include "harness/scenario/PreparedScenario.h"
#include "harness/scenario/Scenario.h"

namespace {

// Each point takes the next input byte: below 192 the default choice (run on), else the
// enabled actor it names; past the input's end, the default.
class BytesChooseTheSchedule final : public hph::DecisionSource {
 public:
  BytesChooseTheSchedule(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  hph::ActorId choose(const hph::SchedulingPoint& point) override {
    if (at_ >= size_ || point.enabled.empty()) return hph::defaultChoice(point);
    const uint8_t byte = data_[at_++];
    if (byte < 192) return hph::defaultChoice(point);
    return point.enabled[byte % point.enabled.size()];
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

hph::Session* session() {
  static std::unique_ptr<hph::Session> made = [] {
    const char* path = std::getenv("HPH_FUZZ_SCENARIO");
    const std::string scenarioPath = path ? path : HPH_CORPUS_DIR "/scenarios/patch-padding-short-jmp.x64.toml";
    auto scenario = hph::loadScenario(scenarioPath);
    if (!scenario) {
      std::fprintf(stderr, "%s\n", scenario.error().message.c_str());
      std::exit(2);
    }
    auto inputs = hph::prepareScenario(*scenario);
    if (!inputs) {
      std::fprintf(stderr, "%s\n", inputs.error().message.c_str());
      std::exit(2);
    }
    auto s = hph::Session::create(*inputs, false);
    if (!s) {
      std::fprintf(stderr, "%s\n", s.error().message.c_str());
      std::exit(2);
    }
    return std::move(s).value();
  }();
  return made.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  BytesChooseTheSchedule source(data, size);
  const hph::RunRecord run = session()->run(source);
  if (run.error) {
    std::fprintf(stderr, "harness error: %s\n", run.error->message.c_str());
    std::abort();
  }
  if (run.violation) {
    std::fprintf(stderr, "violation %s: %s\n", std::string(hph::propertyId(run.violation->property)).c_str(),
                 run.violation->message.c_str());
    std::abort();
  }
  return 0;
}
