#include "harness/report/PropertyCatalog.h"

#include <algorithm>

#include "plan/Property.h"

namespace hph {

const std::vector<ReportedProperty>& propertyCatalog() {
  // The design's properties from the one registry (plan/Property.h); the guest's outcomes
  // are reported together as "guest", beside vacuity and refusal.
  static const std::vector<ReportedProperty> all = [] {
    std::vector<ReportedProperty> out;
    for (const PropertyInfo& p : propertyRegistry())
      if (isDesignProperty(p.property)) out.push_back({p.id, p.text});
    out.push_back({"guest", "The guest's own invariant holds and no thread faults, runs away or deadlocks"});
    out.push_back({"vacuity", "The exploration exercised every patched function (a step overlapped a thread in its "
                              "window, or calls reached its replacement)"});
    out.push_back({"refused", propertyInfo(Property::kRefused).text});
    return out;
  }();
  return all;
}

std::vector<std::string_view> propertiesFor(std::string_view arch) {
  std::vector<std::string_view> out;
  for (const ReportedProperty& p : propertyCatalog()) {
    if (p.id == "refused") continue;
    const auto property = parseProperty(p.id);
    // A hybrid run is serial: it checks H1-H4 (a path that faults misses the new code,
    // H1), nothing of threads, nor the guest's own invariant.
    if (arch == "arm64ec" && (!property || propertyInfo(*property).scope != PropertyScope::kHybrid)) continue;
    if (property) {
      const PropertyScope scope = propertyInfo(*property).scope;
      if (arch != "arm64ec" && scope == PropertyScope::kHybrid) continue;
      if (scope == PropertyScope::kX64 && arch != "x64") continue;
      if (scope == PropertyScope::kArm64 && arch != "arm64") continue;
    }
    out.push_back(p.id);
  }
  return out;
}

std::string_view reportProperty(std::string_view violation) {
  for (const ReportedProperty& p : propertyCatalog())
    if (p.id == violation) return p.id;
  return "guest";
}

}  // namespace hph
