#include "plan/Property.h"

#include <array>

namespace hph {
namespace {

using S = PropertyScope;
constexpr std::array<PropertyInfo, 24> kRegistry = {{
    {Property::kC1, "C1", S::kCommon,
     "Every instruction starts on an instruction boundary of the code in memory at that moment"},
    {Property::kC2, "C2", S::kCommon,
     "A thread stopped inside a replaced span is not resumed there after the span changed"},
    {Property::kC3, "C3", S::kCommon,
     "When a stop-the-world patch commits, no thread's PC or return address lies in the replaced span"},
    {Property::kC4, "C4", S::kCommon, "Every executed instruction is wholly old or wholly new bytes, never a mixture"},
    {Property::kC5, "C5", S::kCommon,
     "Each call is a whole old or a whole new call; per thread, once new, never old again"},
    {Property::kC6, "C6", S::kCommon,
     "On arrival at the replacement, arguments, callee-saved registers, SP and return address are unchanged"},
    {Property::kC7, "C7", S::kCommon, "A trampoline or old-code buffer is reused only after no thread can be in it"},
    {Property::kC8, "C8", S::kCommon, "After the plan's last step, every call reaches the new code"},
    {Property::kX1, "X1", S::kX64,
     "x64: a live store is a one-byte INT3 in or out, or lands under an INT3 after every thread serialised"},
    {Property::kX2, "X2", S::kX64,
     "x64: any other live store is single-copy atomic and replaces exactly one whole instruction"},
    {Property::kX3, "X3", S::kX64,
     "x64: a thread at a transient INT3 continues with exactly the old or the new semantics"},
    {Property::kA1, "A1", S::kArm64,
     "Arm64: a live store is one aligned 32-bit store between B, BL, BRK, HVC, ISB, NOP, SMC, SVC"},
    {Property::kA2, "A2", S::kArm64,
     "Arm64: what a new branch reaches was written and made visible before the branch store"},
    {Property::kA3, "A3", S::kArm64,
     "Arm64: a thread may fetch stale bytes until it context-synchronises after the writer's maintenance"},
    {Property::kA4, "A4", S::kArm64,
     "Arm64: mutable redirection state is an aligned 64-bit literal updated by one store"},
    {Property::kH1, "H1", S::kHybrid,
     "Hybrid: after the plan, every entry path of a patched function (and every declared caller) reaches the new code"},
    {Property::kH2, "H2", S::kHybrid,
     "Hybrid: no store overwrites an entry-thunk word (body-4) or fast-forward bytes the plan does not patch"},
    {Property::kH3, "H3", S::kHybrid,
     "Hybrid: each stored instruction is of the kind (x64 or Arm64) of the code-map range it lands in"},
    {Property::kH4, "H4", S::kHybrid,
     "Hybrid: after every store, both engines run what memory holds (no stale translation)"},
    {Property::kInvariant, "invariant", S::kGuest,
     "The guest's invariant function returns non-zero after every thread finished"},
    {Property::kFault, "fault", S::kGuest, "No guest thread faults"},
    {Property::kRunaway, "runaway", S::kGuest, "No guest thread runs past its instruction budget"},
    {Property::kDeadlock, "deadlock", S::kGuest, "The guest threads never all block"},
    {Property::kRefused, "refused", S::kPlan, "The protocol's preconditions hold (it did not refuse)"},
}};

}  // namespace

std::span<const PropertyInfo> propertyRegistry() { return kRegistry; }

const PropertyInfo& propertyInfo(Property property) { return kRegistry[static_cast<size_t>(property)]; }

std::optional<Property> parseProperty(std::string_view id) {
  for (const PropertyInfo& p : kRegistry)
    if (p.id == id) return p.property;
  return std::nullopt;
}

}  // namespace hph
