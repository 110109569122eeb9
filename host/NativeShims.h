// The runner's stand-ins for the system DLL functions guest code imports: the host side of
// emu/core/ShimLibrary. hph binds every import to a 16-byte stub at the same address as
// the emulator does (Machine::kShimBase + 16 * slot), so the images' import tables hold
// the same bytes on the host; the runner fills those slots with jumps to native functions
// in the guest's calling convention. Imports without a native shim (the thread services:
// guest-created threads would escape the patchers' suspend-all) get a trapping stub, and
// hph names the import when a thread reaches one. The list is in docs/shims.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "host/HostJob.h"

namespace hph {

// Maps the stub slots the job's shims occupy and fills them; false with `error`.
bool mapNativeShims(const std::vector<HostShim>& shims, std::string& error);

// Whether the runner provides dll!function natively.
bool hasNativeShim(std::string_view dll, std::string_view function);

}  // namespace hph
