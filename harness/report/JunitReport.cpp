#include "harness/report/JunitReport.h"

#include <fmt/format.h>

#include "harness/report/PropertyCatalog.h"

namespace hph {
namespace {

using nlohmann::json;

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    default:
      // XML 1.0 allows no control characters but tab, newline, carriage return.
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
      else
        out += c;
    }
  }
  return out;
}

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

bool boolOf(const json& j, const char* key) { return j.contains(key) && j[key].is_boolean() && j[key].get<bool>(); }

struct Case {
  std::string name;
  std::string failure;           // empty: passed
  std::string kind = "failure";  // or "error", "skipped"
  std::string out;
};

// The test cases of one scenario: what was expected against what was found.
std::vector<Case> casesOf(const json& s) {
  const std::string verdict = str(s, "verdict"), expect = str(s, "expect"), arch = str(s, "arch");
  std::vector<Case> cases;
  if (verdict == "bad-input" || verdict == "internal-error") {
    cases.push_back({"input", str(s, "message"), "error", ""});
    return cases;
  }
  if (verdict == "inconclusive") {
    // The search was cut short: nothing per property can be claimed either way.
    const bool accepted = boolOf(s, "as_expected");
    Case c{"exploration", "", accepted ? "skipped" : "failure", ""};
    const std::string why = "inconclusive: " + str(s, "message");
    if (accepted)
      c.out = why + " (accepted: --accept-partial)";
    else
      c.failure = why;
    cases.push_back(c);
    return cases;
  }
  if (verdict == "refused") {
    Case c{"refused", "", "failure", str(s, "message")};
    if (expect != "refused") c.failure = "the protocol refused: " + str(s, "message");
    cases.push_back(c);
    return cases;
  }
  const std::string found = verdict.starts_with("violation:") ? std::string(reportProperty(verdict.substr(10))) : "";
  const std::string wanted = expect.starts_with("violation:") ? std::string(reportProperty(expect.substr(10))) : "";
  const json ce = s.contains("counterexample") ? s["counterexample"] : json();
  const std::string detail =
      ce.is_null() ? "" : fmt::format("{}\nreplay: hph replay {}", str(ce, "message"), str(ce, "replay"));
  for (std::string_view property : propertiesFor(arch)) {
    Case c{std::string(property), "", "failure", ""};
    if (property == "vacuity") {
      if (verdict == "vacuous" && expect != "vacuous")
        c.failure = "the patch was never exercised (no step overlapped a thread, no call reached it)";
    } else if (property == found && property != wanted) {
      c.failure = detail;
    } else if (property == wanted && property != found) {
      c.failure = fmt::format("expected {} but the verdict is {}", expect, verdict);
    } else if (property == found) {
      c.out = "caught as expected: " + detail;
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

std::string junitXml(const json& scenarios, double seconds) {
  std::string suites;
  size_t tests = 0, failures = 0, errors = 0;
  for (const json& s : scenarios) {
    const std::vector<Case> cases = casesOf(s);
    size_t suiteFailures = 0, suiteErrors = 0;
    std::string body;
    for (const Case& c : cases) {
      body +=
          fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"0\"", escape(str(s, "name")), escape(c.name));
      if (c.failure.empty() && c.out.empty()) {
        body += "/>\n";
        continue;
      }
      body += ">\n";
      if (c.kind == "skipped") body += fmt::format("      <skipped message=\"{}\"/>\n", escape(c.out));
      if (!c.failure.empty()) {
        (c.kind == "error" ? suiteErrors : suiteFailures)++;
        const std::string firstLine = c.failure.substr(0, c.failure.find('\n'));
        body += fmt::format("      <{} message=\"{}\" type=\"{}\">{}</{}>\n", c.kind, escape(firstLine), escape(c.name),
                            escape(c.failure), c.kind);
      }
      if (!c.out.empty()) body += fmt::format("      <system-out>{}</system-out>\n", escape(c.out));
      body += "    </testcase>\n";
    }
    std::string properties;
    if (s.contains("provenance"))
      for (const auto& [key, value] : s["provenance"].items())
        properties += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", escape(key),
                                  escape(value.is_string()
                                             ? value.get<std::string>()
                                             : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    const double time =
        s.contains("timing") && s["timing"].contains("seconds") ? s["timing"]["seconds"].get<double>() : 0;
    suites += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3f}\" "
                          "file=\"{}\">\n{}{}{}  </testsuite>\n",
                          escape(str(s, "name").empty() ? str(s, "file") : str(s, "name")), cases.size(), suiteFailures,
                          suiteErrors, time, escape(str(s, "file")), properties.empty() ? "" : "    <properties>\n",
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
    const std::string name = str(s, "name").empty() ? str(s, "file") : str(s, "name");
    const std::string said =
        fmt::format("{} on the host, {} patcher, {} threads, {} calls ({} before the plan, {} after)",
                    str(s, "verdict"), str(s, "patcher"), s.value("threads", 0), s.value("calls", 0ull),
                    s.value("calls_before_plan", 0ull), s.value("calls_after_plan", 0ull));
    body += fmt::format("    <testcase classname=\"hph onhost\" name=\"{}\" file=\"{}\" time=\"0\">\n", escape(name),
                        escape(str(s, "file")));
    if (!boolOf(s, "as_expected")) {
      ++failures;
      const std::string message = str(s, "message").empty() ? said : str(s, "message");
      body += fmt::format("      <failure message=\"{}\" type=\"{}\">{}</failure>\n", escape(message),
                          escape(str(s, "verdict")), escape(said + "\n" + str(s, "message")));
    }
    body += fmt::format("      <system-out>{}</system-out>\n    </testcase>\n", escape(said));
  }
  return fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hph onhost\" tests=\"{}\" "
                     "failures=\"{}\" errors=\"0\" time=\"{:.3f}\">\n  <testsuite name=\"hph onhost\" tests=\"{}\" "
                     "failures=\"{}\" errors=\"0\" time=\"{:.3f}\">\n{}  </testsuite>\n</testsuites>\n",
                     scenarios.size(), failures, seconds, scenarios.size(), failures, seconds, body);
}

}  // namespace hph
