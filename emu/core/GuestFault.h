// What went wrong inside the guest: reported, never a crash of the harness.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hph {

enum class FaultKind {
  kUnmappedRead,
  kUnmappedWrite,
  kUnmappedFetch,
  kProtectionViolation,
  kInvalidInstruction,
  kException,        // an interrupt or CPU exception (int3, #DE, brk, svc, ...)
  kBudgetExhausted,  // runaway guest: the instruction budget ran out
};

constexpr std::string_view faultKindName(FaultKind kind) {
  switch (kind) {
  case FaultKind::kUnmappedRead: return "unmapped-read";
  case FaultKind::kUnmappedWrite: return "unmapped-write";
  case FaultKind::kUnmappedFetch: return "unmapped-fetch";
  case FaultKind::kProtectionViolation: return "protection-violation";
  case FaultKind::kInvalidInstruction: return "invalid-instruction";
  case FaultKind::kException: return "exception";
  case FaultKind::kBudgetExhausted: return "budget-exhausted";
  }
  return "unknown";
}

struct GuestFault {
  FaultKind kind = FaultKind::kException;
  uint64_t pc = 0;
  uint64_t address = 0;     // the data address, for memory faults
  std::string location;     // "basics.x64.dll+0x1234" when inside a module
  std::string instruction;  // disassembly of the instruction at pc ("" if unreadable)
  std::string detail;       // "#DE divide error", "budget of 1000 instructions"

  // One line: "unmapped-read of 0x10 at 0x180001234 (faults.x64.dll+0x1234: mov rax, [rcx])".
  std::string describe() const;
};

}  // namespace hph
