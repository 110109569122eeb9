#include "harness/report/HtmlReport.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <vector>

#include "harness/report/PropertyCases.h"

namespace hph {
namespace {

using nlohmann::json;

constexpr const char* kStyle = R"(body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1.ship{color:#176317}h1.noship{color:#a11}h1.partial{color:#555}table{border-collapse:collapse;margin:8px 0 20px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}
td.ok{background:#e6f4e6}td.fail{background:#fbe3e3}td.skip{background:#f4f0dc}td.none{color:#999}
code,pre{font:12px/1.3 ui-monospace,monospace}pre.replay{background:#f6f6f6;padding:6px;white-space:pre-wrap;word-break:break-all}
svg.timeline{border:1px solid #ddd;background:#fff}svg text{font:11px ui-monospace,monospace}
rect.thread{fill:#7aa6d8}rect.patcher{fill:#e0a040}line.violation{stroke:#c00;stroke-width:3}
)";

}  // namespace

const char* htmlReportStyle() { return kStyle; }

namespace {

std::string text(const json& j, const char* key) { return markupEscape(jsonText(j, key)); }

uint64_t unsignedOf(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_unsigned() ? j[key].get<uint64_t>() : 0;
}

std::string number(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].dump() : "-";
}

// A digest as the page shows it: 64 hex digits, the first 16 visible, all on hover.
std::string digest(const json& value) {
  const std::string hex = value.is_string() ? value.get<std::string>() : "";
  const bool valid = hex.size() == 64 && hex.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!valid) return "<i>not a SHA-256</i>";
  return fmt::format("<span title=\"{}\">{}</span>", hex, hex.substr(0, 16));
}

// "thread 10" after "thread 2"; the patcher last.
bool laneBefore(const std::string& a, const std::string& b) {
  const auto key = [](const std::string& lane) {
    const bool patcher = lane == "patcher";
    const size_t space = lane.rfind(' ');
    const long n = space == std::string::npos ? 0 : std::strtol(lane.c_str() + space + 1, nullptr, 10);
    return std::tuple(patcher, lane.substr(0, space == std::string::npos ? lane.size() : space), n);
  };
  return key(a) < key(b);
}

// The schedule of a counterexample: every stretch an actor ran (a slice), in the order
// they ran, one column each, on the actor's lane — a patch step retires no instructions,
// so a time axis would stack them; the patcher's steps are numbered; the violation is
// marked after the last slice, on the violating actor's lane (across every lane when the
// run broke as a whole: the invariant after every thread ended, a deadlock).
std::string timelineSvg(const json& ce) {
  std::vector<const json*> slices;
  for (const json& s : ce["timeline"])
    if (s.is_object() && s.contains("actor") && s["actor"].is_string()) slices.push_back(&s);
  std::vector<std::string> lanes;
  for (const json* s : slices)
    if (std::find(lanes.begin(), lanes.end(), jsonText(*s, "actor")) == lanes.end())
      lanes.push_back(jsonText(*s, "actor"));
  std::sort(lanes.begin(), lanes.end(), laneBefore);
  constexpr int kLeft = 90, kRight = 24, kLane = 26, kTop = 8;
  const int columns = std::max<int>(static_cast<int>(slices.size()), 1);
  const int width = std::clamp(kLeft + kRight + columns * 14, 480, 1400);
  const double column = static_cast<double>(width - kLeft - kRight) / columns;
  const int height = kTop * 2 + static_cast<int>(lanes.size()) * kLane + 14;
  const auto laneY = [&](const std::string& actor) {
    const auto it = std::find(lanes.begin(), lanes.end(), actor);
    return it == lanes.end() ? -1 : kTop + static_cast<int>(it - lanes.begin()) * kLane;
  };
  std::string svg = fmt::format(
      "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\">\n", width,
      height);
  for (const std::string& lane : lanes)
    svg += fmt::format("<text class=\"lane-name\" x=\"4\" y=\"{}\">{}</text>\n", laneY(lane) + 16, markupEscape(lane));
  size_t step = 0;
  for (const std::string& lane : lanes) {
    const bool patcher = lane == "patcher";
    svg += fmt::format("<g class=\"lane\" data-actor=\"{}\">\n", markupEscape(lane));
    for (size_t i = 0; i < slices.size(); ++i) {
      const json& s = *slices[i];
      if (jsonText(s, "actor") != lane) continue;
      const double x = kLeft + column * static_cast<double>(i);
      const uint64_t pc = unsignedOf(s, "pc");
      svg += fmt::format(
          "<rect class=\"{}\" data-order=\"{}\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\"><title>{} #{}: "
          "instructions {}..{}{}{}{}</title></rect>\n",
          patcher ? "patcher" : "thread", i, x, laneY(lane) + 4, std::max(column - 1.0, 1.0), kLane - 8,
          markupEscape(lane), i + 1, unsignedOf(s, "begin"), unsignedOf(s, "end"),
          pc ? fmt::format(", first at 0x{:x}", pc) : "", jsonText(s, "what").empty() ? "" : ": ", text(s, "what"));
      if (patcher && column >= 12)
        svg += fmt::format("<text class=\"step\" x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                           x + column / 2, laneY(lane) + 16, ++step);
    }
    svg += "</g>\n";
  }
  const std::string actor = jsonText(ce, "actor");
  const int y = laneY(actor);
  const double end = kLeft + column * static_cast<double>(slices.size()) + 4;
  svg += fmt::format(
      "<line class=\"violation\" data-actor=\"{0}\" x1=\"{1:.1f}\" x2=\"{1:.1f}\" y1=\"{2}\" y2=\"{3}\"><title>{4} "
      "violated here{5}{6}</title></line>\n",
      y < 0 ? "all" : markupEscape(actor), end, y < 0 ? kTop : y,
      y < 0 ? kTop + static_cast<int>(lanes.size()) * kLane : y + kLane, text(ce, "property"),
      jsonText(ce, "instruction").empty() ? "" : ": ", text(ce, "instruction"));
  svg += fmt::format("<text x=\"{}\" y=\"{}\">slices in the order they ran (hover: instructions, step)</text>\n", kLeft,
                     height - 3);
  return svg + "</svg>\n";
}

// Why the page would not say ship although the exit code is 0.
std::string shipCaveat(const json& scenarios) {
  for (const json& s : scenarios) {
    const json e = s.contains("exploration") ? s["exploration"] : json::object();
    if (jsonText(e, "shard").rfind("0/1", 0) != 0 && !jsonText(e, "shard").empty())
      return fmt::format("{} explored only shard {}: merge the shards (hph merge) for the release verdict",
                         text(s, "name"), text(e, "shard"));
    if (jsonFlag(e, "accepted_partial"))
      return fmt::format("{}: its search was cut short and accepted (--accept-partial), not exhausted",
                         text(s, "name"));
  }
  return "";
}

}  // namespace

std::string htmlReport(const json& scenarios, int exitCode, const std::string& title) {
  const std::string caveat = exitCode == 0 ? shipCaveat(scenarios) : "";
  const bool ship = exitCode == 0 && caveat.empty();
  std::string html = fmt::format(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style></head>"
      "<body>\n<h1 id=\"decision\" class=\"{}\">{}</h1>\n",
      markupEscape(title), kStyle, ship ? "ship" : "noship", ship ? "Ship" : "Do not ship");
  if (!caveat.empty()) html += fmt::format("<p id=\"caveat\">{}</p>\n", caveat);
  size_t asExpected = 0;
  for (const json& s : scenarios) asExpected += jsonFlag(s, "as_expected");
  html += fmt::format("<p id=\"summary\">{} of {} scenario{} as expected; exit code {}.</p>\n", asExpected,
                      scenarios.size(), scenarios.size() == 1 ? "" : "s", exitCode);
  if (!scenarios.empty() && scenarios[0].contains("provenance")) {
    const json& p = scenarios[0]["provenance"];
    html += fmt::format("<p id=\"versions\">hph {}, Unicorn {}, LIEF {}</p>\n", text(p, "hph_version"),
                        text(p, "unicorn_version"), text(p, "lief_version"));
  }

  html += "<h2>Scenarios</h2>\n<table id=\"scenarios\"><tr><th>scenario</th><th>arch</th><th>protocol</th>"
          "<th>expected</th><th>verdict</th><th>search</th><th>schedules</th><th>inputs (SHA-256)</th></tr>\n";
  for (const json& s : scenarios) {
    const json e = s.contains("exploration") ? s["exploration"] : json::object();
    const json p = s.contains("provenance") ? s["provenance"] : json::object();
    std::string search = text(e, "strategy");
    if (jsonText(e, "strategy") == "exhaustive")
      search += fmt::format(", preemption bound {} (levels searched: {})", number(e, "preemption_bound"),
                            number(e, "levels_completed"));
    if (jsonText(e, "strategy") == "pct") search += ", depth " + number(e, "depth");
    if (e.contains("seed")) search += ", seed " + number(e, "seed");
    if (e.contains("schedule_limit")) search += ", cap " + number(e, "schedule_limit");
    if (!jsonText(e, "shard").empty()) search += ", shard " + text(e, "shard");
    if (jsonFlag(e, "exhausted")) search += ", exhausted";
    if (jsonFlag(e, "accepted_partial")) search += ", cut short (accepted)";
    std::string inputs;
    if (p.contains("scenario_sha256")) inputs += "scenario " + digest(p["scenario_sha256"]) + "<br>";
    if (p.contains("base_sha256")) inputs += "base " + digest(p["base_sha256"]) + "<br>";
    if (p.contains("patch_sha256") && p["patch_sha256"].is_array())
      for (const json& d : p["patch_sha256"]) inputs += "patch " + digest(d) + "<br>";
    html += fmt::format(
        "<tr class=\"scenario\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"verdict {}\">{}</td><td>{}</td>"
        "<td>{}</td><td><code>{}</code></td></tr>\n",
        text(s, "name"), text(s, "arch"), text(s, "protocol"), text(s, "expect"),
        jsonFlag(s, "as_expected") ? "ok" : "fail", text(s, "verdict"), search, number(e, "schedules"), inputs);
  }
  html += "</table>\n";

  // Properties by scenario: what each was expected and found to do.
  std::vector<std::string> properties;
  std::vector<std::map<std::string, PropertyCase>> rows;
  for (const json& s : scenarios) {
    std::map<std::string, PropertyCase> row;
    for (PropertyCase& c : propertyCases(s)) {
      if (std::find(properties.begin(), properties.end(), c.name) == properties.end()) properties.push_back(c.name);
      row.emplace(c.name, std::move(c));
    }
    rows.push_back(std::move(row));
  }
  html += "<h2>Properties</h2>\n<table id=\"properties\"><tr><th>scenario</th>";
  for (const std::string& p : properties) html += fmt::format("<th>{}</th>", markupEscape(p));
  html += "</tr>\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    html += fmt::format("<tr><td>{}</td>", text(scenarios[i], "name"));
    for (const std::string& p : properties) {
      const auto it = rows[i].find(p);
      if (it == rows[i].end()) {
        html += "<td class=\"none\">-</td>";
        continue;
      }
      const PropertyCase& c = it->second;
      const char* cls = !c.failure.empty() ? "fail" : c.kind == "skipped" ? "skip" : "ok";
      const char* said = !c.failure.empty()    ? "failed"
                         : c.kind == "skipped" ? "skipped"
                         : c.out.empty()       ? "held"
                                               : "caught";
      html += fmt::format("<td class=\"{}\" title=\"{}\">{}</td>", cls,
                          markupEscape(c.failure.empty() ? c.out : c.failure), said);
    }
    html += "</tr>\n";
  }
  html += "</table>\n";

  bool any = false;
  for (size_t i = 0; i < scenarios.size(); ++i) {
    const json& s = scenarios[i];
    if (!s.contains("counterexample") || !s["counterexample"].is_object()) continue;
    if (!any) html += "<h2>Counterexamples</h2>\n";
    any = true;
    const json& ce = s["counterexample"];
    html += fmt::format("<section class=\"counterexample\" id=\"counterexample-{}\"><h3>{}: {}</h3>\n<p>{}</p>\n", i,
                        text(s, "name"), text(ce, "property"), text(ce, "message"));
    if (ce.contains("step") && ce["step"].is_number())
      html += fmt::format("<p>patch step involved: {}</p>\n", number(ce, "step"));
    if (!jsonText(ce, "instruction").empty())
      html += fmt::format("<p>violating instruction: <code>{}</code></p>\n", text(ce, "instruction"));
    if (ce.contains("timeline") && ce["timeline"].is_array() && !ce["timeline"].empty())
      html += timelineSvg(ce);
    else
      html += "<p>(no timeline recorded: the replay command below draws it with --trace)</p>\n";
    html += fmt::format("<pre class=\"replay\">hph replay {}</pre>\n</section>\n", text(ce, "replay"));
  }
  return html + "</body></html>\n";
}

}  // namespace hph
