// What reports say about a prepared scenario: where an address lies (an image and RVA, or
// the hotpatch area) and the digests and versions a verdict was reached with.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "harness/scenario/PreparedScenario.h"

namespace hph {

// The base or a patch image that holds `address`, with its RVA and file offset (SARIF
// locations); else the base, with the address as a logical location.
nlohmann::json locateAddress(const ScenarioInputs& inputs, uint64_t address);
// The inputs' SHA-256 digests and the versions of hph, Unicorn and LIEF.
nlohmann::json scenarioProvenance(const ScenarioInputs& inputs);

}  // namespace hph
