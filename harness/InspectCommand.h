// `hph inspect IMAGE [--json]`: what an image is and which of its functions can be
// hotpatched as compiled.
#pragma once

#include <string>

#include "emu/pe/Arm64xRelocations.h"

namespace hph {

struct InspectOptions {
  std::string image;
  bool json = false;
  ImageView view = ImageView::kNative;
};

int runInspect(const InspectOptions& options);

}  // namespace hph
