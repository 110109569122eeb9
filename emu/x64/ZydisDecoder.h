// The one 64-bit Zydis decoder every x64 component shares (it is immutable once set up).
#pragma once

#include <Zydis/Zydis.h>

namespace hph::x64 {

const ZydisDecoder& decoder();

}  // namespace hph::x64
