#include "harness/report/ChromeTrace.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

namespace hph {

std::string chromeTraceJson(const RunRecord& run, const std::string& scenarioName, const std::string& replayToken) {
  using nlohmann::json;
  json events = json::array();
  // Perfetto sorts tracks by tid: threads by index, the patcher after them.
  auto tid = [&](ActorId actor) { return actor == kPatcher ? 100000 : actor; };
  std::set<ActorId> actors;
  for (const TraceSlice& s : run.trace) {
    actors.insert(s.actor);
    events.push_back({{"name", s.actor == kPatcher ? s.what : actorName(s.actor)},
                      {"cat", s.actor == kPatcher ? "patch" : "guest"},
                      {"ph", "X"},
                      {"ts", s.begin},
                      {"dur", std::max<uint64_t>(s.end - s.begin, 1)},
                      {"pid", 1},
                      {"tid", tid(s.actor)},
                      {"args", {{"ended", s.what}, {"first_pc", fmt::format("{:#x}", s.firstPc)}}}});
  }
  for (ActorId actor : actors)
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", 1},
                      {"tid", tid(actor)},
                      {"args", {{"name", actorName(actor)}}}});
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"args", {{"name", scenarioName}}}});
  if (run.violation)
    events.push_back({{"name", "violation: " + std::string(propertyId(run.violation->property))},
                      {"ph", "i"},
                      {"s", "g"},
                      {"pid", 1},
                      {"tid", 0},
                      {"ts", run.trace.empty() ? 0 : run.trace.back().end},
                      {"args", {{"message", run.violation->message}}}});
  json trace = {{"traceEvents", events},
                {"displayTimeUnit", "ns"},
                {"otherData",
                 {{"scenario", scenarioName},
                  {"replay", replayToken},
                  {"clock", "virtual: one microsecond per guest instruction"}}}};
  return trace.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hph
