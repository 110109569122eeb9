#include "harness/scenario/Verdict.h"

namespace hph {
namespace {

constexpr std::string_view kViolationPrefix = "violation:";

}  // namespace

std::string verdictText(const Verdict& verdict) {
  switch (verdict.kind) {
  case VerdictKind::kHolds: return "holds";
  case VerdictKind::kViolation: return std::string(kViolationPrefix) + verdict.property;
  case VerdictKind::kRefused: return "refused";
  case VerdictKind::kVacuous: return "vacuous";
  case VerdictKind::kInconclusive: return "inconclusive";
  }
  return "?";
}

std::optional<Verdict> parseExpectedVerdict(std::string_view text) {
  if (text == "holds") return Verdict{VerdictKind::kHolds, ""};
  if (text == "refused") return Verdict{VerdictKind::kRefused, ""};
  if (text == "vacuous") return Verdict{VerdictKind::kVacuous, ""};
  // Any property name: one the checkers never report simply never matches.
  if (text.starts_with(kViolationPrefix) && text.size() > kViolationPrefix.size())
    return Verdict{VerdictKind::kViolation, std::string(text.substr(kViolationPrefix.size()))};
  return std::nullopt;
}

}  // namespace hph
