// A replay token names one schedule of one scenario: the scenario file (as given on the
// command line), the first bytes of the inputs' SHA-256 (replay refuses changed inputs),
// and the off-default decisions. Text form: "hph1." + base64url of varints.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "emu/core/Schedule.h"

namespace hph {

struct ReplayToken {
  static constexpr size_t kDigestBytes = 8;
  std::string scenarioPath;
  std::vector<uint8_t> digest;  // kDigestBytes of ScenarioInputs::inputsDigest
  std::vector<std::pair<uint64_t, ActorId>> decisions;

  std::string encode() const;
  static std::optional<ReplayToken> decode(std::string_view text);
};

}  // namespace hph
