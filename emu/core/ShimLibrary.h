// Harness-provided stand-ins for system DLL functions (kernel32, ...). An image's
// imports are bound to small stubs; when the guest calls one, the host runs the shim
// and the stub returns its value. Imports without a shim are bound too, so static
// commands work on any image, but running one is refused naming the import.
// The list is documented in docs/shims.md.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace hph {

class Machine;

// What a shim sees: the machine it runs in and the guest's arguments.
struct ShimCall {
  Machine& machine;
  uint64_t argument(size_t index) const;
};

struct ShimResult {
  uint64_t value = 0;
  // The calling thread cannot continue yet (it waits for another thread): the stub is
  // not entered, and the shim runs again when the thread is next resumed.
  bool blocks = false;
};

using ShimHandler = ShimResult (*)(ShimCall& call);

struct ShimFunction {
  std::string_view dll;  // lower case, with ".dll"
  std::string_view name;
  ShimHandler handler;
  std::string_view summary;  // one line for docs
};

std::span<const ShimFunction> shimFunctions();
// Case-insensitive on the DLL name, exact on the function name; nullptr when absent.
const ShimFunction* findShim(std::string_view dll, std::string_view name);

}  // namespace hph
