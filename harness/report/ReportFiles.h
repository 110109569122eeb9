// The report files of `hph check` and `hph merge`, written from one "scenarios" array:
// --json (the document the command built), --junit, --sarif, and --html last (a page
// that says ship must not stand beside a report that failed to be written).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "support/Result.h"

namespace hph {

struct ReportFiles {
  std::optional<std::string> json, junit, sarif, html;
};

// Bad input naming the flag and the file when one cannot be written.
Result<void> writeReportFiles(const ReportFiles& files, const nlohmann::json& document, int exitCode, double seconds,
                              const std::string& title);

// Writes `text` to `path` (binary): false when it could not.
bool writeTextFile(const std::string& path, const std::string& text);

}  // namespace hph
