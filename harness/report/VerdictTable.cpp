#include "harness/report/VerdictTable.h"

#include <fmt/format.h>

namespace hph {

using nlohmann::json;

void printVerdictTable(const json& scenarios) {
  if (scenarios.size() < 2) return;
  fmt::print("\n{:<34} {:<7} {:<18} {:<22} {:<22} {:>10} {}\n", "scenario", "arch", "protocol", "expected", "verdict",
             "schedules", "");
  for (const json& s : scenarios) {
    const json& e = s.contains("exploration") ? s["exploration"] : json::object();
    const std::string schedules = e.contains("schedules") ? std::to_string(e["schedules"].get<uint64_t>()) : "-";
    fmt::print("{:<34} {:<7} {:<18} {:<22} {:<22} {:>10} {}\n", s.value("name", s.value("file", "")),
               s.value("arch", ""), s.value("protocol", "").empty() ? "-" : s.value("protocol", ""),
               s.value("expect", "-"), s.value("verdict", ""), schedules,
               s.value("as_expected", false) ? "ok" : "FAIL");
  }
}

}  // namespace hph
