#include "harness/report/ReportFiles.h"

#include <fmt/format.h>

#include <fstream>

#include "harness/report/HtmlReport.h"
#include "harness/report/JunitReport.h"
#include "harness/report/SarifReport.h"

namespace hph {

using nlohmann::json;

bool writeTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

Result<void> writeReportFiles(const ReportFiles& files, const json& document, int exitCode, double seconds,
                              const std::string& title) {
  const json& scenarios = document["scenarios"];
  const auto dumped = [](const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"; };
  if (files.json && !writeTextFile(*files.json, dumped(document)))
    return badInput(fmt::format("--json {}: cannot write", *files.json));
  if (files.junit && !writeTextFile(*files.junit, junitXml(scenarios, seconds)))
    return badInput(fmt::format("--junit {}: cannot write", *files.junit));
  if (files.sarif && !writeTextFile(*files.sarif, dumped(sarifLog(scenarios))))
    return badInput(fmt::format("--sarif {}: cannot write", *files.sarif));
  if (files.html && !writeTextFile(*files.html, htmlReport(scenarios, exitCode, title)))
    return badInput(fmt::format("--html {}: cannot write", *files.html));
  return {};
}

}  // namespace hph
