// A replay token names one schedule of one scenario: the scenario file by its absolute
// path (so the token works from any directory; `replay --scenario` points elsewhere),
// the first bytes of each input's SHA-256 — the tool versions, the scenario, the base,
// each patch — so replay refuses inputs that changed and says which one, and the
// off-default decisions. Text form: "hph2." + base64url of varints.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "emu/core/Schedule.h"

namespace hph {

struct ScenarioInputs;

struct ReplayToken {
  static constexpr size_t kDigestBytes = 6;
  static constexpr size_t kMaxInputs = 64;
  std::string scenarioPath;
  // kDigestBytes each: [0] hph/Unicorn/LIEF versions, [1] scenario, [2] base, [3 + i] patch i.
  std::vector<std::vector<uint8_t>> digests;
  std::vector<std::pair<uint64_t, ActorId>> decisions;

  // The token for this schedule of these inputs.
  static ReplayToken of(const ScenarioInputs& inputs, std::vector<std::pair<uint64_t, ActorId>> decisions);
  std::string encode() const;
  static std::optional<ReplayToken> decode(std::string_view text);
  // Which input differs from what the token was made from, in words ("" when none).
  std::string changedInput(const ScenarioInputs& inputs) const;
};

}  // namespace hph
