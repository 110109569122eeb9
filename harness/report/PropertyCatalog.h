// The properties a verdict can name (docs/design.md), with one-line descriptions for reports:
// which apply to an architecture (JUnit test cases) and what each means (SARIF rules).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hph {

struct ReportedProperty {
  std::string_view id;  // "C1", ..., "guest"
  std::string_view text;
};

const std::vector<ReportedProperty>& propertyCatalog();
// The checks a scenario of this architecture gets, in report order: the common ones,
// the architecture's own, then "guest" (invariant, faults, runaways, deadlocks) and
// "vacuity".
std::vector<std::string_view> propertiesFor(std::string_view arch);
// The report property of a violation: a design property as is; anything the guest did
// (invariant, fault, runaway, deadlock) is "guest".
std::string_view reportProperty(std::string_view violation);

}  // namespace hph
