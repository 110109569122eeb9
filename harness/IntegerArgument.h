// Command-line integers: decimal or 0x-hex, 64-bit; "-N" wraps to two's complement so
// a signed argument can be written naturally.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hph {

std::optional<uint64_t> parseInteger(std::string_view text);

}  // namespace hph
