#include "harness/report/PropertyCases.h"

#include <fmt/format.h>

#include <algorithm>

#include "harness/report/PropertyCatalog.h"

namespace hph {

using nlohmann::json;

std::string markupEscape(std::string_view text) {
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

std::string jsonText(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

bool jsonFlag(const json& j, const char* key) { return j.contains(key) && j[key].is_boolean() && j[key].get<bool>(); }

// A hybrid run's findings of `property` (its report's hybrid.findings), one per line.
static std::string otherFinding(const json& s, std::string_view property) {
  std::string out;
  if (!s.contains("hybrid") || !s["hybrid"].is_object() || !s["hybrid"].contains("findings")) return out;
  for (const json& f : s["hybrid"]["findings"])
    if (f.is_object() && jsonText(f, "property") == property) out += (out.empty() ? "" : "\n") + jsonText(f, "message");
  return out;
}

// Why a scenario is vacuous, from its report's vacuity: the functions never exercised, or
// a shard that owned no schedule.
static std::string vacuityFailure(const json& s) {
  const json vacuity = s.value("vacuity", json::object());
  const json exploration = s.value("exploration", json::object());
  if (exploration.is_object() && exploration.value("schedules", json()) == 0) return "this shard owned no schedule";
  std::string names;
  if (vacuity.is_object() && vacuity.contains("unexercised_sites") && vacuity["unexercised_sites"].is_array())
    for (const json& name : vacuity["unexercised_sites"])
      if (name.is_string()) names += fmt::format("{}'{}'", names.empty() ? "" : ", ", name.get<std::string>());
  if (names.empty()) return "the patch was never exercised";
  return fmt::format("never exercised: {} (no step of it overlapped a thread in its window, no call reached its "
                     "replacement)",
                     names);
}

std::vector<PropertyCase> propertyCases(const json& s) {
  const std::string verdict = jsonText(s, "verdict"), expect = jsonText(s, "expect"), arch = jsonText(s, "arch");
  std::vector<PropertyCase> cases;
  if (verdict == "bad-input" || verdict == "internal-error") {
    cases.push_back({"input", jsonText(s, "message"), "error", ""});
    return cases;
  }
  if (verdict == "inconclusive") {
    // The search was cut short: nothing per property can be claimed either way.
    const bool accepted = jsonFlag(s, "as_expected");
    PropertyCase c{"exploration", "", accepted ? "skipped" : "failure", ""};
    const std::string why = "inconclusive: " + jsonText(s, "message");
    if (accepted)
      c.out = why + " (accepted: --accept-partial)";
    else
      c.failure = why;
    cases.push_back(c);
    return cases;
  }
  if (verdict == "refused") {
    PropertyCase c{"refused", "", "failure", jsonText(s, "message")};
    if (expect != "refused") c.failure = "the protocol refused: " + jsonText(s, "message");
    cases.push_back(c);
    return cases;
  }
  const std::string found = verdict.starts_with("violation:") ? std::string(reportProperty(verdict.substr(10))) : "";
  const std::string wanted = expect.starts_with("violation:") ? std::string(reportProperty(expect.substr(10))) : "";
  const json ce = s.contains("counterexample") ? s["counterexample"] : json();
  const std::string detail =
      ce.is_null() ? "" : fmt::format("{}\nreplay: hph replay {}", jsonText(ce, "message"), jsonText(ce, "replay"));
  // The counterexample's detail; a hybrid run's every finding of the property, not only
  // the counterexample's.
  const auto allOf = [&](std::string_view property) {
    const std::string all = otherFinding(s, property);
    return all.empty() ? detail : fmt::format("{}\nreplay: hph replay {}", all, jsonText(ce, "replay"));
  };
  const json ignored = s.contains("ignored") && s["ignored"].is_array() ? s["ignored"] : json::array();
  for (std::string_view property : propertiesFor(arch)) {
    PropertyCase c{std::string(property), "", "failure", ""};
    if (property == wanted && property != found) {
      // A canary expecting it failed, ignored or not (an ignored property never fires).
      c.failure = fmt::format("expected {} but the verdict is {}", expect, verdict);
    } else if (std::find(ignored.begin(), ignored.end(), json(std::string(property))) != ignored.end()) {
      // Its checker's findings are dropped: nothing was claimed about it either way.
      c.kind = "skipped";
      c.out = "not checked: [check] ignore names it";
    } else if (property == "vacuity") {
      if (verdict == "vacuous" && expect != "vacuous") c.failure = vacuityFailure(s);
    } else if (property == found && property != wanted) {
      c.failure = allOf(property);
    } else if (property == found) {
      c.out = "caught as expected: " + allOf(property);
    } else if (const std::string also = otherFinding(s, property); !also.empty()) {
      // A hybrid run reports every finding: beside an expected one they are part of what the
      // canary shows; otherwise each fails its own case.
      if (jsonFlag(s, "as_expected"))
        c.out = "also found: " + also;
      else
        c.failure = also;
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace hph
