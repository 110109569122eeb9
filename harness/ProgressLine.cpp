#include "harness/ProgressLine.h"

#include <fmt/format.h>

#include <cmath>

namespace hph {

std::string durationText(double seconds) {
  const auto s = static_cast<uint64_t>(std::llround(std::max(seconds, 0.0)));
  if (s < 60) return fmt::format("~{} s", s);
  if (s < 3600) return fmt::format("~{} min {} s", s / 60, s % 60);
  return fmt::format("~{} h {} min", s / 3600, (s % 3600) / 60);
}

std::string percentText(double share) {
  const double percent = 100 * share;
  return percent < 1 ? fmt::format("{:.2f}%", percent) : fmt::format("{:.0f}%", percent);
}

std::string progressText(const std::string& name, const ExploreProgress& p) {
  const double rate = p.seconds > 0 ? static_cast<double>(p.schedules) / p.seconds : 0;
  std::string line = fmt::format("{}: {} schedules ({:.0f}/s), {:.1f} s", name, p.schedules, rate, p.seconds);
  if (!p.level) return line;
  line += fmt::format(", level {} of bound {}", *p.level, p.bound);
  // Nothing searched yet: nothing to extrapolate from.
  if (p.levelShare <= 0) return line;
  line += fmt::format(" ~{} searched (estimated)", percentText(p.levelShare));
  if (p.levelShare < 1)
    line += fmt::format(", {} left in the level", durationText(p.levelSeconds * (1 - p.levelShare) / p.levelShare));
  return line;
}

}  // namespace hph
