// How a schedule reads on a terminal: who ran, where each stretch ended.
#pragma once

#include <string>

#include "emu/core/Schedule.h"

namespace hph {

// Up to `maxLines` indented lines, one per stretch of execution (elided in the middle).
std::string describeSchedule(const RunRecord& run, size_t maxLines = 16);

}  // namespace hph
