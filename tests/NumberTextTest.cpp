// support/NumberText: every caller's syntax, as rows of text -> value (or refused), in
// the style of Zydis's golden tables. A row per edge: prefix case, sign, overflow, width.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "support/NumberText.h"

namespace hph::test {
namespace {

constexpr std::nullopt_t kRefused = std::nullopt;

struct UnsignedRow {
  const char* syntax;  // which caller's syntax (below)
  std::string text;
  std::optional<uint64_t> value;
};

UnsignedSyntax syntaxNamed(const std::string& name) {
  if (name == "cli") return {};  // --seed, --schedules, --address, --shard, rva:0x...
  if (name == "site-offset") return {.upperCasePrefix = false, .max = UINT32_MAX};  // "bump+0x4"
  if (name == "rva") return {.max = UINT32_MAX};                                    // "rva:0x1020"
  if (name == "patch-address") return {.digits = IntegerDigits::kHex, .upperCasePrefix = false};
  ADD_FAILURE() << "no syntax " << name;
  return {};
}

TEST(NumberText, UnsignedGolden) {
  const std::vector<UnsignedRow> rows = {
      {"cli", "0", 0},
      {"cli", "42", 42},
      {"cli", "0x2a", 42},
      {"cli", "0X2A", 42},
      {"cli", "0x", kRefused},
      {"cli", "", kRefused},
      {"cli", "-1", kRefused},
      {"cli", "+1", kRefused},
      {"cli", " 1", kRefused},
      {"cli", "1 ", kRefused},
      {"cli", "2a", kRefused},
      {"cli", "0x0x1", kRefused},
      {"cli", "18446744073709551615", UINT64_MAX},
      {"cli", "18446744073709551616", kRefused},
      {"cli", "0xffffffffffffffff", UINT64_MAX},
      {"cli", "0x10000000000000000", kRefused},
      {"site-offset", "4", 4},
      {"site-offset", "0x10", 16},
      {"site-offset", "0X10", kRefused},
      {"site-offset", "4294967295", UINT32_MAX},
      {"site-offset", "4294967296", kRefused},
      {"site-offset", "", kRefused},
      {"rva", "0x1020", 0x1020},
      {"rva", "0X1020", 0x1020},
      {"rva", "4128", 0x1020},
      {"rva", "0x100000000", kRefused},
      {"patch-address", "0x7ff600000000", 0x7ff600000000},
      {"patch-address", "7ff600000000", 0x7ff600000000},
      {"patch-address", "0X7ff600000000", kRefused},
      {"patch-address", "0x", kRefused},
      {"patch-address", "xyz", kRefused},
      {"patch-address", "10", 0x10},
  };
  for (const UnsignedRow& row : rows)
    EXPECT_EQ(parseUnsigned(row.text, syntaxNamed(row.syntax)), row.value) << row.syntax << " '" << row.text << "'";
}

TEST(NumberText, IntegerGolden) {
  const std::vector<std::pair<std::string, std::optional<uint64_t>>> rows = {
      {"7", 7},
      {"0x10", 16},
      {"-1", UINT64_MAX},
      {"-0x10", 0 - uint64_t{16}},
      {"-9223372036854775808", uint64_t{1} << 63},
      {"-9223372036854775809", kRefused},
      {"--1", kRefused},
      {"-", kRefused},
      {"18446744073709551615", UINT64_MAX},
  };
  for (const auto& [text, value] : rows) EXPECT_EQ(parseInteger(text), value) << "'" << text << "'";
}

TEST(NumberText, SecondsGolden) {
  const std::vector<std::pair<std::string, std::optional<double>>> rows = {
      {"0", 0.0},        {"1.5", 1.5},     {"30", 30.0},      {".5", 0.5},         {"", kRefused},   {"nan", kRefused},
      {"inf", kRefused}, {"-1", kRefused}, {"1e3", kRefused}, {"1.2.3", kRefused}, {" 1", kRefused},
  };
  for (const auto& [text, value] : rows) EXPECT_EQ(parseSeconds(text), value) << "'" << text << "'";
}

}  // namespace
}  // namespace hph::test
