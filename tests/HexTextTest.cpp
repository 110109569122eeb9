// support/HexText: the formatter in both layouts and the parser under every caller's
// syntax, as rows of input -> expected output, in the style of Zydis's golden tables.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "support/HexText.h"

namespace hph::test {
namespace {

using Bytes = std::vector<uint8_t>;
const std::optional<Bytes> kRefused = std::nullopt;

TEST(HexText, FormatGolden) {
  struct Row {
    Bytes bytes;
    std::string spaced, packed;
  };
  const std::vector<Row> rows = {
      {{}, "", ""},
      {{0x00}, "00", "00"},
      {{0xEB, 0xF9}, "eb f9", "ebf9"},
      {{0x0F, 0xA0, 0xFF}, "0f a0 ff", "0fa0ff"},
      {{0xE9, 0x00, 0x00, 0x00, 0x00}, "e9 00 00 00 00", "e900000000"},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(hexBytes(row.bytes), row.spaced);
    EXPECT_EQ(hexBytes(row.bytes, HexLayout::kSpaced), row.spaced);
    EXPECT_EQ(hexBytes(row.bytes, HexLayout::kPacked), row.packed);
  }
}

struct ParseRow {
  const char* syntax;
  std::string text;
  std::optional<Bytes> bytes;
};

HexBytesSyntax syntaxNamed(const std::string& name) {
  if (name == "scenario") return {.ignored = " :_"};                     // [[host_write]].bytes
  if (name == "cli") return {.ignored = " \t\n\v\f\r", .prefix = true};  // hph trampoline --hex
  if (name == "packed") return {};                                       // digests
  ADD_FAILURE() << "no syntax " << name;
  return {};
}

TEST(HexText, ParseGolden) {
  const std::vector<ParseRow> rows = {
      {"scenario", "c3", Bytes{0xC3}},
      {"scenario", "C3", Bytes{0xC3}},
      {"scenario", "48 89 c8", Bytes{0x48, 0x89, 0xC8}},
      {"scenario", "48:89:C8", Bytes{0x48, 0x89, 0xC8}},
      {"scenario", "4889_c8", Bytes{0x48, 0x89, 0xC8}},
      {"scenario", "4 889c8", Bytes{0x48, 0x89, 0xC8}},  // separators anywhere, even inside a byte
      {"scenario", "", kRefused},
      {"scenario", " : _", kRefused},
      {"scenario", "c", kRefused},
      {"scenario", "c3c", kRefused},
      {"scenario", "0xc3", kRefused},
      {"scenario", "c3\t", kRefused},
      {"scenario", "g0", kRefused},
      {"scenario", "-1", kRefused},
      {"cli", "4883ec28c3", Bytes{0x48, 0x83, 0xEC, 0x28, 0xC3}},
      {"cli", "0x4883ec28", Bytes{0x48, 0x83, 0xEC, 0x28}},
      {"cli", " 48 83\tec\n28 ", Bytes{0x48, 0x83, 0xEC, 0x28}},
      {"cli", "0x 48", Bytes{0x48}},
      {"cli", "0X48", kRefused},
      {"cli", "0x", kRefused},
      {"cli", "0x0x48", kRefused},
      {"cli", "48:83", kRefused},
      {"cli", "+1", kRefused},
      {"cli", "483", kRefused},
      {"packed", "e3b0c442", Bytes{0xE3, 0xB0, 0xC4, 0x42}},
      {"packed", "e3 b0", kRefused},
      {"packed", "", kRefused},
  };
  for (const ParseRow& row : rows)
    EXPECT_EQ(parseHexBytes(row.text, syntaxNamed(row.syntax)), row.bytes) << row.syntax << " '" << row.text << "'";
}

TEST(HexText, PackedRoundTrips) {
  Bytes all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<uint8_t>(b));
  EXPECT_EQ(parseHexBytes(hexBytes(all, HexLayout::kPacked), {}), all);
  EXPECT_EQ(parseHexBytes(hexBytes(all), {.ignored = " "}), all);
}

}  // namespace
}  // namespace hph::test
