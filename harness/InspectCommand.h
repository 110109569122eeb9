// `hph inspect IMAGE [--json]`: what an image is and which of its functions can be
// hotpatched as compiled.
#pragma once

#include <string>

namespace hph {

struct InspectOptions {
  std::string image;
  bool json = false;
};

int runInspect(const InspectOptions& options);

}  // namespace hph
