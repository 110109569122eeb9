// How a schedule reads on a terminal: who ran, where each stretch ended.
#pragma once

#include <string>

#include "emu/core/Schedule.h"

namespace hph {

// Up to `maxLines` indented lines, one per stretch of execution (elided in the middle).
std::string describeSchedule(const RunRecord& run, size_t maxLines = 16);
// "thread 0 at counter.x64.dll+0x1023: add [rax], eax, patch step 2": who, which
// instruction and which step a violation involves ("" when it names none of them).
std::string describeViolationSite(const Violation& violation);

}  // namespace hph
