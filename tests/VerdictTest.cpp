// harness/scenario/Verdict: a scenario's `expect` as rows of text -> verdict, and every
// verdict back to the text reports show.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "harness/scenario/Verdict.h"

namespace hph::test {
namespace {

TEST(Verdict, ExpectGolden) {
  const std::vector<std::pair<std::string, std::optional<Verdict>>> rows = {
      {"holds", Verdict{VerdictKind::kHolds, ""}},
      {"refused", Verdict{VerdictKind::kRefused, ""}},
      {"vacuous", Verdict{VerdictKind::kVacuous, ""}},
      {"violation:C3", Verdict{VerdictKind::kViolation, "C3"}},
      {"violation:guest", Verdict{VerdictKind::kViolation, "guest"}},
      {"violation:", std::nullopt},
      {"inconclusive", std::nullopt},
      {"Holds", std::nullopt},
      {"", std::nullopt},
      {"violation", std::nullopt},
  };
  for (const auto& [text, verdict] : rows) {
    EXPECT_EQ(parseExpectedVerdict(text), verdict) << "'" << text << "'";
    if (verdict) {
      EXPECT_EQ(verdictText(*verdict), text);
    }
  }
  EXPECT_EQ(verdictText({VerdictKind::kInconclusive, ""}), "inconclusive");
  EXPECT_NE(Verdict({VerdictKind::kViolation, "refused"}), Verdict({VerdictKind::kRefused, ""}));
}

}  // namespace
}  // namespace hph::test
