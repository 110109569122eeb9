#include "harness/report/HtmlReport.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "harness/report/PropertyCases.h"

namespace hph {
namespace {

using nlohmann::json;

constexpr const char* kStyle = R"(body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1.ship{color:#176317}h1.noship{color:#a11}table{border-collapse:collapse;margin:8px 0 20px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}
td.ok{background:#e6f4e6}td.fail{background:#fbe3e3}td.skip{background:#f4f0dc}td.none{color:#999}
code,pre{font:12px/1.3 ui-monospace,monospace}pre.replay{background:#f6f6f6;padding:6px;white-space:pre-wrap;word-break:break-all}
svg.timeline{border:1px solid #ddd;background:#fff}svg text{font:11px ui-monospace,monospace}
rect.thread{fill:#7aa6d8}rect.patcher{fill:#e0a040}line.violation{stroke:#c00;stroke-width:2}
)";

std::string text(const json& j, const char* key) { return markupEscape(jsonText(j, key)); }

std::string number(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].dump() : "-";
}

// The schedule of a counterexample: its slices (who ran, from when to when, in
// instructions retired) as lanes, the patcher's steps named, the violation marked.
std::string timelineSvg(const json& ce) {
  const json& slices = ce["timeline"];
  std::vector<std::string> lanes;
  uint64_t last = 1;
  for (const json& s : slices) {
    const std::string actor = jsonText(s, "actor");
    if (std::find(lanes.begin(), lanes.end(), actor) == lanes.end()) lanes.push_back(actor);
    last = std::max<uint64_t>(last, s.value("end", uint64_t{0}));
  }
  // Threads in order, the patcher last.
  std::sort(lanes.begin(), lanes.end(), [](const std::string& a, const std::string& b) {
    return std::pair(a == "patcher", a) < std::pair(b == "patcher", b);
  });
  constexpr int kLeft = 90, kWidth = 960, kLane = 26, kTop = 8;
  const int height = kTop * 2 + static_cast<int>(lanes.size()) * kLane + 14;
  const auto x = [&](uint64_t t) {
    return kLeft + static_cast<double>(t) / static_cast<double>(last) * (kWidth - kLeft - 10);
  };
  std::string svg = fmt::format(
      "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\">\n", kWidth,
      height);
  for (size_t i = 0; i < lanes.size(); ++i) {
    const int y = kTop + static_cast<int>(i) * kLane;
    const bool patcher = lanes[i] == "patcher";
    svg += fmt::format("<g class=\"lane\" data-actor=\"{}\"><text x=\"4\" y=\"{}\">{}</text>\n", markupEscape(lanes[i]),
                       y + 16, markupEscape(lanes[i]));
    size_t order = 0;
    for (const json& s : slices) {
      if (jsonText(s, "actor") != lanes[i]) continue;
      const double from = x(s.value("begin", uint64_t{0})), to = x(s.value("end", uint64_t{0}));
      svg += fmt::format(
          "<rect class=\"{}\" data-order=\"{}\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\"><title>{}: "
          "instructions {}..{} from 0x{:x}{}{}</title></rect>\n",
          patcher ? "patcher" : "thread", order++, from, y + 4, std::max(to - from, 2.0), kLane - 8,
          markupEscape(lanes[i]), s.value("begin", uint64_t{0}), s.value("end", uint64_t{0}),
          s.value("pc", uint64_t{0}), jsonText(s, "what").empty() ? "" : ": ", text(s, "what"));
    }
    svg += "</g>\n";
  }
  // The violation: where the run ended, on the violating actor's lane.
  const std::string actor = jsonText(ce, "actor");
  const auto lane = std::find(lanes.begin(), lanes.end(), actor);
  const int y = kTop + static_cast<int>((lane == lanes.end() ? 0 : lane - lanes.begin())) * kLane;
  svg += fmt::format(
      "<line class=\"violation\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\"><title>{3} violated here: "
      "{4}</title></line>\n",
      x(last), y, y + kLane, text(ce, "property"), text(ce, "instruction"));
  svg += fmt::format(
      "<text x=\"{}\" y=\"{}\">0</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{} instructions</text>\n", kLeft,
      height - 3, kWidth - 10, height - 3, last);
  return svg + "</svg>\n";
}

}  // namespace

std::string htmlReport(const json& scenarios, int exitCode, const std::string& title) {
  const bool ship = exitCode == 0;
  std::string html = fmt::format(
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style></head>"
      "<body>\n<h1 id=\"decision\" class=\"{}\">{}</h1>\n",
      markupEscape(title), kStyle, ship ? "ship" : "noship", ship ? "Ship" : "Do not ship");
  size_t asExpected = 0;
  for (const json& s : scenarios) asExpected += jsonFlag(s, "as_expected");
  html += fmt::format("<p id=\"summary\">{} of {} scenario{} as expected; exit code {}.</p>\n", asExpected,
                      scenarios.size(), scenarios.size() == 1 ? "" : "s", exitCode);

  html += "<h2>Scenarios</h2>\n<table id=\"scenarios\"><tr><th>scenario</th><th>arch</th><th>protocol</th>"
          "<th>expected</th><th>verdict</th><th>search</th><th>schedules</th><th>provenance</th></tr>\n";
  for (const json& s : scenarios) {
    const json e = s.contains("exploration") ? s["exploration"] : json::object();
    const json p = s.contains("provenance") ? s["provenance"] : json::object();
    std::string search = text(e, "strategy");
    if (jsonText(e, "strategy") == "exhaustive") search += ", preemption bound " + number(e, "preemption_bound");
    if (e.contains("seed")) search += ", seed " + number(e, "seed");
    if (jsonFlag(e, "exhausted")) search += ", exhausted";
    std::string digests;
    for (const char* key : {"scenario_sha256", "base_sha256"})
      if (p.contains(key)) digests += fmt::format("{} {}<br>", key, jsonText(p, key).substr(0, 16));
    html += fmt::format(
        "<tr class=\"scenario\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"verdict {}\">{}</td><td>{}</td>"
        "<td>{}</td><td><code>{}</code></td></tr>\n",
        text(s, "name"), text(s, "arch"), text(s, "protocol"), text(s, "expect"),
        jsonFlag(s, "as_expected") ? "ok" : "fail", text(s, "verdict"), search, number(e, "schedules"), digests);
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
  for (const json& s : scenarios) {
    if (!s.contains("counterexample")) continue;
    if (!any) html += "<h2>Counterexamples</h2>\n";
    any = true;
    const json& ce = s["counterexample"];
    html += fmt::format("<section class=\"counterexample\" id=\"ce-{}\"><h3>{}: {}</h3>\n<p>{}</p>\n", text(s, "name"),
                        text(s, "name"), text(ce, "property"), text(ce, "message"));
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
