// The line that says how far an exploration is: on a terminal it is redrawn in place,
// elsewhere (--progress) printed now and then, one line each time.
#pragma once

#include <string>

#include "harness/explore/Explorer.h"

namespace hph {

// "name: 12345 schedules (2900/s), level 2 of bound 2 ~63% searched (estimated), ~1 min 20 s
// left in the level".
std::string progressText(const std::string& name, const ExploreProgress& progress);

// "63%", "0.42%" (a share of 0..1).
std::string percentText(double share);

// "~1 min 20 s", "~45 s", "~2 h 5 min".
std::string durationText(double seconds);

}  // namespace hph
