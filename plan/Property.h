// The one registry of what a run is checked against: the design's properties (C1-C8 for
// every architecture, X1-X3 for x64, A1-A4 for Arm64, H1-H4 for hybrid images;
// docs/properties.md) and the outcomes
// the guest and the plan themselves can have (a failed invariant, a fault, a runaway, a
// deadlock, a plan that gave up). Checkers and the scheduler report these values; their
// ids are text only at the edges (scenario files, reports, messages).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace hph {

enum class Property : uint8_t {
  kC1,
  kC2,
  kC3,
  kC4,
  kC5,
  kC6,
  kC7,
  kC8,
  kX1,
  kX2,
  kX3,
  kA1,
  kA2,
  kA3,
  kA4,
  kH1,
  kH2,
  kH3,
  kH4,
  kInvariant,
  kFault,
  kRunaway,
  kDeadlock,
  kRefused,
};

// Which runs a property applies to.
enum class PropertyScope : uint8_t {
  kCommon,  // every architecture's patch
  kX64,     // x64 patches
  kArm64,   // Arm64 patches
  kHybrid,  // patches to hybrid (Arm64EC) images: H1-H4 (H5 is a refusal, not a property of a run)
  kGuest,   // what the guest itself did (reported together as "guest")
  kPlan,    // the plan gave up (stop-the-world out of retries)
};

struct PropertyInfo {
  Property property;
  std::string_view id;  // "C1", "invariant", ...
  PropertyScope scope;
  std::string_view text;  // one line: what holds when it holds
};

std::span<const PropertyInfo> propertyRegistry();
const PropertyInfo& propertyInfo(Property property);
inline std::string_view propertyId(Property property) { return propertyInfo(property).id; }
std::optional<Property> parseProperty(std::string_view id);
// C1-C8, X1-X3, A1-A4, H1-H4: the design's properties (what `ignore` and `expect` may name).
inline bool isDesignProperty(Property property) { return property <= Property::kH4; }

}  // namespace hph
