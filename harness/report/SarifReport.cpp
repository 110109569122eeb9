#include "harness/report/SarifReport.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>

#include "harness/report/PropertyCatalog.h"
#include "harness/report/Provenance.h"

namespace hph {
namespace {

using nlohmann::json;

}  // namespace

std::string uriOf(const std::string& path) {
  std::string out = path.starts_with('/') ? "file://" : "";
  for (unsigned char c : path) {
    if (std::isalnum(c) || std::string_view("/-._~").find(static_cast<char>(c)) != std::string_view::npos)
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

namespace {

// The log around a tool run's rules and results.
json sarifEnvelope(const json& rules, const json& results, const json& invocation);

}  // namespace

json sarifLog(const json& scenarios) {
  json rules = json::array();
  std::vector<std::string_view> ids;
  for (const ReportedProperty& p : propertyCatalog()) {
    rules.push_back({{"id", p.id},
                     {"name", p.id == "guest"     ? std::string("GuestMisbehaved")
                              : p.id == "vacuity" ? std::string("PatchNotExercised")
                              : p.id == "refused" ? std::string("ProtocolRefused")
                                                  : fmt::format("Property{}", p.id)},
                     {"shortDescription", {{"text", p.text}}},
                     {"fullDescription", {{"text", fmt::format("{} (docs/design.md, property {}).", p.text, p.id)}}},
                     {"defaultConfiguration", {{"level", "error"}}}});
    ids.push_back(p.id);
  }
  json results = json::array();
  for (const json& s : scenarios) {
    if (!s.contains("counterexample")) continue;
    const json& ce = s["counterexample"];
    const std::string property(reportProperty(ce.value("property", "")));
    const auto rule = std::find(ids.begin(), ids.end(), property) - ids.begin();
    const json& where = ce["location"];
    json physical = {{"artifactLocation", {{"uri", uriOf(where.value("image", s.value("file", "")))}}}};
    if (where.contains("file_offset") && where["file_offset"].is_number())
      physical["region"] = {{"byteOffset", where["file_offset"]}, {"byteLength", 1}};
    std::string logical =
        where.contains("rva") && where["rva"].is_number()
            ? fmt::format("{}+{:#x}", std::filesystem::path(where.value("image", "")).filename().string(),
                          where["rva"].get<uint64_t>())
            : where.value("logical", "");
    json result = {{"ruleId", property},
                   {"ruleIndex", rule},
                   // A canary caught as expected is a note; anything else fails the gate.
                   {"level", s.value("as_expected", false) ? "note" : "error"},
                   {"kind", "fail"},
                   {"message",
                    {{"text", fmt::format("{}: {} ({})", s.value("name", ""), ce.value("message", ""),
                                          ce.value("property", ""))}}},
                   {"locations", json::array({{{"physicalLocation", physical}}})},
                   {"properties",
                    {{"scenario", s.value("file", "")},
                     {"rva", where.contains("rva") ? where["rva"] : json(nullptr)},
                     {"thread", ce.value("actor", "")},
                     {"step", ce.contains("step") ? ce["step"] : json(nullptr)},
                     {"bytes", ce.value("bytes", "")},
                     {"replay", fmt::format("hph replay {}", ce.value("replay", ""))},
                     {"expected", s.value("expect", "")}}}};
    if (!logical.empty())
      result["locations"][0]["logicalLocations"] =
          json::array({{{"fullyQualifiedName", logical}, {"kind", "function"}}});
    // A hybrid run reports every finding; the counterexample is its first, the rest follow.
    std::vector<json> more;
    if (s.contains("hybrid") && s["hybrid"].is_object() && s["hybrid"].contains("findings"))
      for (size_t i = 1; i < s["hybrid"]["findings"].size(); ++i) {
        const json& f = s["hybrid"]["findings"][i];
        json extra = result;
        extra["ruleId"] = f.value("property", "");
        extra["ruleIndex"] = std::find(ids.begin(), ids.end(), f.value("property", "")) - ids.begin();
        extra["message"]["text"] =
            fmt::format("{}: {} ({})", s.value("name", ""), f.value("message", ""), f.value("property", ""));
        more.push_back(std::move(extra));
      }
    results.push_back(std::move(result));
    for (json& extra : more) results.push_back(std::move(extra));
  }
  json invocation = {{"executionSuccessful", true}};
  // A search cut short is not a result about the code: say so where SARIF consumers look
  // for how the run went.
  json notifications = json::array();
  for (const json& s : scenarios)
    if (s.value("verdict", "") == "inconclusive")
      notifications.push_back(
          {{"level", s.value("as_expected", false) ? "warning" : "error"},
           {"message", {{"text", fmt::format("{}: inconclusive: {}", s.value("name", ""), s.value("message", ""))}}}});
  if (!notifications.empty()) invocation["toolExecutionNotifications"] = notifications;
  return sarifEnvelope(rules, results, invocation);
}

json sarifOnHostLog(const json& scenarios) {
  // The verdicts a host run can reach besides holds (harness/HostVerdict.h).
  struct HostRule {
    const char* id;
    const char* name;
    const char* text;
  };
  static const HostRule kVerdicts[] = {
      {"fault", "GuestFaultOnHost", "a real thread faulted while the plan was applied"},
      {"invariant", "InvariantFailedOnHost", "the scenario's invariant failed once every thread stopped"},
      {"stray-write", "StrayWrite", "a read-only byte changed that no applied step stores to (the write-set audit)"},
      {"bytes", "BytesDiffer",
       "a byte the plan stores is not what the emulator ends with (or, reversed, what it was before)"},
      {"stale-code", "StaleCode", "calls begun after the plan's last step ran the code it replaced"},
      {"vacuous", "PatchNotExercisedOnHost",
       "the patch was not applied under load, or no call ran the old or the new code"}};
  json rules = json::array();
  for (const auto& [id, name, text] : kVerdicts)
    rules.push_back({{"id", id},
                     {"name", name},
                     {"shortDescription", {{"text", text}}},
                     {"fullDescription", {{"text", fmt::format("hph onhost: {} (docs/onhost.md).", text)}}},
                     {"defaultConfiguration", {{"level", "error"}}}});
  json results = json::array();
  for (const json& s : scenarios) {
    const std::string verdict = s.value("verdict", "holds");
    if (verdict == "holds") continue;
    const std::string id = verdict.starts_with("violation:") ? verdict.substr(10) : verdict;
    const auto rule =
        std::find_if(std::begin(kVerdicts), std::end(kVerdicts), [&](const HostRule& v) { return id == v.id; }) -
        std::begin(kVerdicts);
    results.push_back(
        {{"ruleId", id},
         {"ruleIndex", rule},
         {"level", s.value("as_expected", false) ? "note" : "error"},
         {"kind", "fail"},
         {"message",
          {{"text", fmt::format("{}: {} on the host: {}", s.value("name", ""), verdict, s.value("message", ""))}}},
         {"locations",
          // The scenario as a whole: the host cannot point into the image as the emulator does.
          json::array(
              {{{"physicalLocation",
                 {{"artifactLocation", {{"uri", uriOf(s.value("file", ""))}}}, {"region", {{"startLine", 1}}}}}}})},
         {"properties", {{"patcher", s.value("patcher", "")}, {"threads", s.value("threads", 0)}}}});
  }
  return sarifEnvelope(rules, results, {{"executionSuccessful", true}});
}

namespace {

json sarifEnvelope(const json& rules, const json& results, const json& invocation) {
  return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
          {"version", "2.1.0"},
          {"runs", json::array({{{"tool",
                                  {{"driver",
                                    {{"name", "hph"},
                                     {"fullName", "hotpatch-harness"},
                                     {"version", hphVersion()},
                                     {"semanticVersion", hphVersion()},
                                     {"rules", rules},
                                     {"properties", {{"unicorn", unicornVersion()}, {"lief", liefVersion()}}}}}}},
                                 {"invocations", json::array({invocation})},
                                 {"results", results}}})}};
}

}  // namespace

}  // namespace hph
