// What a check comes to, and what a scenario expects it to come to (its `expect`): parsed
// once when the scenario is read, compared as values, written as text only in reports.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hph {

enum class VerdictKind {
  kHolds,
  kViolation,     // a property failed (or the guest faulted)
  kRefused,       // the protocol's preconditions failed
  kVacuous,       // nothing was violated, but a patched function was never exercised
  kInconclusive,  // the search was cut short and found nothing (never expected)
};

struct Verdict {
  VerdictKind kind = VerdictKind::kHolds;
  std::string property;  // kViolation: which one ("C3", "guest"); else ""

  bool operator==(const Verdict&) const = default;
};

// "holds", "violation:C3", "refused", "vacuous", "inconclusive": reports and messages.
std::string verdictText(const Verdict& verdict);

// A scenario's `expect`: holds, refused, vacuous or violation:<property>.
std::optional<Verdict> parseExpectedVerdict(std::string_view text);

}  // namespace hph
