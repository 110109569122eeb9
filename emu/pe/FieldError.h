// The one shape of a bad-image error: "<path>: <field>: <problem>", one line, bad input
// (exit 2). Every reader of untrusted image bytes reports through it.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "emu/pe/PeImage.h"

namespace hph::pe {

inline Error fieldError(const PeImage& image, std::string_view field, std::string_view problem) {
  return badInput(fmt::format("{}: {}: {}", image.path, field, problem));
}

}  // namespace hph::pe
