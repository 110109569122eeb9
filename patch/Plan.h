// A patch is data: a Plan, an ordered list of Steps. The emulator executes the steps as
// scheduling events between guest instructions; the on-host runner will execute the very
// same steps on a live process. What the emulator verified is what the host applies.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace hph {

// The host writes `bytes` at `address` with one store. (Protocols, cache maintenance,
// suspension and PC moves arrive with the patch engine; a raw store is what scenarios
// use to exercise the patcher until then.)
struct StoreStep {
  uint64_t address = 0;
  std::vector<uint8_t> bytes;
  std::string label;  // "bump+0x0" — how the scenario named the place
};

using Step = std::variant<StoreStep>;

struct Plan {
  std::vector<Step> steps;
  bool empty() const { return steps.empty(); }
};

}  // namespace hph
