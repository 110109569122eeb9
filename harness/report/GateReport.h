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

// The release's part of the gate's document: the manifest and images with their digests,
// each stage's settings. Every shard of one release has the same (hph merge compares them).
nlohmann::json gateRelease(const ReleaseManifest& manifest);

// The gate's document: the release's part, the stage items (stage, arch, base, function,
// scenario, file, order, verdict pass|fail|skipped, detail, report), a verdict per function
// and stage, and ship when every function passed every stage that ran. A shard's document
// (`shard` not null: {shard: "I/N", source}) never ships; part_failed says whether its
// part found a failure.
nlohmann::json gateDocument(nlohmann::json release, const nlohmann::json& items, double seconds,
                            const nlohmann::json& shard);

// Removes what an earlier gate left in `directory` (its reports must not stand in for this
// run's) and creates it with its subdirectories (logs, trampoline, onhost).
Result<void> prepareGateDirectory(const std::string& directory);

// gate.junit.xml, gate.sarif (with the check stage's check.sarif), then gate.json and
// gate.html (last: what says ship must not stand beside a report that failed to be written).
Result<void> writeGateReports(const std::string& directory, const nlohmann::json& document);

// The verdict table and the ship line, as the gate prints them.
std::string gateSummaryText(const nlohmann::json& document);

}  // namespace hph
