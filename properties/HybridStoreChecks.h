// H2 and H3, decided from the plan alone: what each code store overwrites in a hybrid
// image is known before anything runs, from the image's CHPE metadata.
// - H2: no store overwrites a function's entry-thunk word (body-4, which x64 callers are
//   entered through; every Arm64EC function found with one, exported or not) or an
//   export's fast-forward sequence, unless the plan patches that very sequence (an
//   x64-entry site).
// - H3: each store's instructions (the plan's instruction set) are of the kind of the
//   code-map range they land in: x64 bytes in Arm64EC code (or the other way round) would
//   be run by the engine of the range's kind as its own instructions.
#pragma once

#include <string>
#include <vector>

#include "emu/core/Arch.h"
#include "patch/PatchLayout.h"
#include "plan/Plan.h"
#include "plan/Property.h"

namespace hph {

struct HybridFinding {
  Property property = Property::kH1;
  std::string message;
};

// `planArch`: the instruction set the plan's code stores hold (the protocol's).
std::vector<HybridFinding> checkHybridStores(const Plan& plan, ArchKind planArch, const PeImage& base,
                                             const PatchLayout& layout);

}  // namespace hph
