#include "harness/report/JunitReport.h"

#include <fmt/format.h>

#include "harness/report/PropertyCases.h"

namespace hph {
namespace {

using nlohmann::json;

}  // namespace

std::string junitXml(const json& scenarios, double seconds) {
  std::string suites;
  size_t tests = 0, failures = 0, errors = 0;
  for (const json& s : scenarios) {
    const std::vector<PropertyCase> cases = propertyCases(s);
    size_t suiteFailures = 0, suiteErrors = 0;
    std::string body;
    for (const PropertyCase& c : cases) {
      body += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"0\"", markupEscape(jsonText(s, "name")),
                          markupEscape(c.name));
      if (c.failure.empty() && c.out.empty()) {
        body += "/>\n";
        continue;
      }
      body += ">\n";
      if (c.kind == "skipped") body += fmt::format("      <skipped message=\"{}\"/>\n", markupEscape(c.out));
      if (!c.failure.empty()) {
        (c.kind == "error" ? suiteErrors : suiteFailures)++;
        const std::string firstLine = c.failure.substr(0, c.failure.find('\n'));
        body += fmt::format("      <{} message=\"{}\" type=\"{}\">{}</{}>\n", c.kind, markupEscape(firstLine),
                            markupEscape(c.name), markupEscape(c.failure), c.kind);
      }
      if (!c.out.empty()) body += fmt::format("      <system-out>{}</system-out>\n", markupEscape(c.out));
      body += "    </testcase>\n";
    }
    std::string properties;
    if (s.contains("provenance"))
      for (const auto& [key, value] : s["provenance"].items())
        properties += fmt::format(
            "      <property name=\"{}\" value=\"{}\"/>\n", markupEscape(key),
            markupEscape(value.is_string() ? value.get<std::string>()
                                           : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    const double time =
        s.contains("timing") && s["timing"].contains("seconds") ? s["timing"]["seconds"].get<double>() : 0;
    suites += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3f}\" "
                          "file=\"{}\">\n{}{}{}  </testsuite>\n",
                          markupEscape(jsonText(s, "name").empty() ? jsonText(s, "file") : jsonText(s, "name")),
                          cases.size(), suiteFailures, suiteErrors, time, markupEscape(jsonText(s, "file")),
                          properties.empty() ? "" : "    <properties>\n",
                          properties.empty() ? "" : properties + "    </properties>\n", body);
    tests += cases.size();
    failures += suiteFailures;
    errors += suiteErrors;
  }
  return fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hph check\" tests=\"{}\" "
                     "failures=\"{}\" errors=\"{}\" time=\"{:.3f}\">\n{}</testsuites>\n",
                     tests, failures, errors, seconds, suites);
}

std::string junitOnHostXml(const json& scenarios, double seconds) {
  std::string body;
  size_t failures = 0;
  for (const json& s : scenarios) {
    const std::string name = jsonText(s, "name").empty() ? jsonText(s, "file") : jsonText(s, "name");
    const std::string said =
        fmt::format("{} on the host, {} patcher, {} threads, {} calls ({} before the plan, {} after)",
                    jsonText(s, "verdict"), jsonText(s, "patcher"), s.value("threads", 0), s.value("calls", 0ull),
                    s.value("calls_before_plan", 0ull), s.value("calls_after_plan", 0ull));
    body += fmt::format("    <testcase classname=\"hph onhost\" name=\"{}\" file=\"{}\" time=\"0\">\n",
                        markupEscape(name), markupEscape(jsonText(s, "file")));
    if (!jsonFlag(s, "as_expected")) {
      ++failures;
      const std::string message = jsonText(s, "message").empty() ? said : jsonText(s, "message");
      body += fmt::format("      <failure message=\"{}\" type=\"{}\">{}</failure>\n", markupEscape(message),
                          markupEscape(jsonText(s, "verdict")), markupEscape(said + "\n" + jsonText(s, "message")));
    }
    body += fmt::format("      <system-out>{}</system-out>\n    </testcase>\n", markupEscape(said));
  }
  return fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hph onhost\" tests=\"{}\" "
                     "failures=\"{}\" errors=\"0\" time=\"{:.3f}\">\n  <testsuite name=\"hph onhost\" tests=\"{}\" "
                     "failures=\"{}\" errors=\"0\" time=\"{:.3f}\">\n{}  </testsuite>\n</testsuites>\n",
                     scenarios.size(), failures, seconds, scenarios.size(), failures, seconds, body);
}

}  // namespace hph
