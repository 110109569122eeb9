// What a scenario's threads stop at (scheduling points) and what data they share. Nothing
// a patch adds may run unwatched: the patched functions and their replacements are
// watched whole, with windows around each patch site, the hotpatch area and the return
// sites of pure functions' callers; `[explore].watch` adds functions of any loaded image.
#pragma once

#include "harness/scenario/PreparedScenario.h"

namespace hph {

// Fills inputs.watched and inputs.sharedData from the resolved sites, host writes and pure
// sites. A watch name that is unknown or ambiguous is bad input.
Result<void> resolveWatchedCode(const Scenario& scenario, ScenarioInputs& inputs);

}  // namespace hph
