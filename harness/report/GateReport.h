// What `hph gate` writes to its --out directory beside the stages' own reports: gate.json
// (schema hph-gate/1), gate.junit.xml (a suite per stage, a case per scenario x function),
// gate.sarif (the exploration's results, which point at the patched function's code, and
// a result per trampoline or on-host failure) and gate.html (ship or not, the images'
// digests, a verdict per patched function and stage), all from one document.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "harness/gate/ReleaseManifest.h"
#include "support/Result.h"

namespace hph {

// The gate's document from its stage items (stage, arch, base, function, scenario,
// verdict pass|fail|skipped, detail, report): a verdict per function and stage, and ship
// when every function passed every stage that ran.
nlohmann::json gateDocument(const ReleaseManifest& manifest, const nlohmann::json& items, double seconds);

// gate.junit.xml, gate.sarif (with the check stage's check.sarif), then gate.json and
// gate.html (last: what says ship must not stand beside a report that failed to be written).
Result<void> writeGateReports(const std::string& directory, const nlohmann::json& document);

// The verdict table and the ship line, as the gate prints them.
std::string gateSummaryText(const nlohmann::json& document);

}  // namespace hph
