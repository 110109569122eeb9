#include "harness/report/ScheduleText.h"

#include <fmt/format.h>

namespace hph {

std::string describeSchedule(const RunRecord& run, size_t maxLines) {
  std::string out;
  const auto& slices = run.trace;
  for (size_t i = 0; i < slices.size(); ++i) {
    if (slices.size() > maxLines && i == maxLines / 2) {
      out += fmt::format("    ... {} more ...\n", slices.size() - maxLines);
      i = slices.size() - maxLines / 2;
    }
    const TraceSlice& s = slices[i];
    out += fmt::format("    {:>9}  {:<9} {}\n", s.end - s.begin, actorName(s.actor), s.what);
  }
  return out;
}

}  // namespace hph
