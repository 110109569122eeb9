#include "harness/report/PropertyCatalog.h"

#include <algorithm>

namespace hph {

const std::vector<PropertyInfo>& propertyCatalog() {
  static const std::vector<PropertyInfo> all = {
      {"C1", "Every instruction starts on an instruction boundary of the code in memory at that moment"},
      {"C2", "A thread stopped inside a replaced span is not resumed there after the span changed"},
      {"C3", "When a stop-the-world patch commits, no thread's PC or return address lies in the replaced span"},
      {"C4", "Every executed instruction is wholly old or wholly new bytes, never a mixture"},
      {"C5", "Each call is a whole old or a whole new call; per thread, once new, never old again"},
      {"C6", "On arrival at the replacement, arguments, callee-saved registers, SP and return address are unchanged"},
      {"C7", "A trampoline or old-code buffer is reused only after no thread can be in it"},
      {"C8", "After the plan's last step, every call reaches the new code"},
      {"X1", "x64: a live store is a one-byte INT3 in or out, or lands under an INT3 after every thread serialised"},
      {"X2", "x64: any other live store is single-copy atomic and replaces exactly one whole instruction"},
      {"X3", "x64: a thread at a transient INT3 continues with exactly the old or the new semantics"},
      {"A1", "Arm64: a live store is one aligned 32-bit store between B, BL, BRK, HVC, ISB, NOP, SMC, SVC"},
      {"A2", "Arm64: what a new branch reaches was written and made visible before the branch store"},
      {"A3", "Arm64: a thread may fetch stale bytes until it context-synchronises after the writer's maintenance"},
      {"A4", "Arm64: mutable redirection state is an aligned 64-bit literal updated by one store"},
      {"guest", "The guest's own invariant holds and no thread faults, runs away or deadlocks"},
      {"vacuity", "The exploration exercised the patch (a step overlapped a thread, or calls reached it)"},
      {"refused", "The protocol's preconditions hold (it did not refuse)"},
  };
  return all;
}

std::vector<std::string_view> propertiesFor(std::string_view arch) {
  std::vector<std::string_view> out;
  for (const PropertyInfo& p : propertyCatalog()) {
    const char kind = p.id[0];
    if (p.id == "refused") continue;
    if (kind == 'X' && arch != "x64") continue;
    if (kind == 'A' && arch != "arm64") continue;
    out.push_back(p.id);
  }
  return out;
}

std::string_view reportProperty(std::string_view violation) {
  for (const PropertyInfo& p : propertyCatalog())
    if (p.id == violation) return p.id;
  return "guest";
}

}  // namespace hph
