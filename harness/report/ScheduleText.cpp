#include "harness/report/ScheduleText.h"

#include <fmt/format.h>

#include <vector>

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

std::string describeViolationSite(const Violation& v) {
  std::vector<std::string> parts;
  if (v.actor != kNoActor) parts.push_back(actorName(v.actor));
  if (!v.instruction.empty()) parts.push_back("at " + v.instruction);
  if (v.step) parts.push_back(fmt::format("patch step {}", *v.step + 1));
  if (!v.bytes.empty()) parts.push_back("bytes " + v.bytes);
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace hph
