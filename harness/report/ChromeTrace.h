// A schedule as Chrome trace-event JSON (opens in Perfetto and chrome://tracing): one
// track per guest thread and one for the patcher; time is virtual (instructions retired).
#pragma once

#include <string>

#include "emu/core/Schedule.h"

namespace hph {

class Machine;

std::string chromeTraceJson(const RunRecord& run, const std::string& scenarioName, const std::string& replayToken);

}  // namespace hph
