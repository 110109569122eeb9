// Every key of the scenario format, data-driven: its type, its documented range
// (harness/scenario/Limits.h, docs/scenarios.md) and the one-line message for each way of
// getting it wrong. A wrong type is an error like an unknown key (once, `check =
// "race_verify"` made the invariant vanish and a race canary print PASS), and an integer
// outside its range is refused, never wrapped (`preemption_bound = 4294967296` was 0).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <optional>

#include "harness/scenario/Limits.h"
#include "harness/scenario/Scenario.h"
#include "tests/TestSupport.h"

namespace hph::test {
namespace {

enum class KeyType { kInteger, kNumber, kBoolean, kString, kStrings };

struct Key {
  const char* table;  // "" top level, "threads", ..., "[[host_write]]", "[[functions]]"
  const char* name;
  KeyType type;
  // kInteger, kNumber: the documented range (inclusive).
  double min = 0, max = 0;
};

void PrintTo(const Key& k, std::ostream* os) { *os << k.table << "." << k.name; }

constexpr double kTomlMax = 9223372036854775807.0;

const std::vector<Key>& scenarioKeys() {
  namespace L = limits;
  static const std::vector<Key> keys = {
      {"", "name", KeyType::kString},
      {"", "arch", KeyType::kString},
      {"", "base", KeyType::kString},
      {"threads", "count", KeyType::kInteger, L::kMinThreads, L::kMaxThreads},
      {"threads", "entry", KeyType::kString},
      {"threads", "stack_size", KeyType::kInteger, L::kMinStackBytes, L::kMaxStackBytes},
      {"threads", "budget", KeyType::kInteger, L::kMinBudget, kTomlMax},
      {"check", "invariant", KeyType::kString},
      {"check", "expect", KeyType::kString},
      {"check", "static_checks", KeyType::kBoolean},
      {"check", "ignore", KeyType::kStrings},
      {"explore", "strategy", KeyType::kString},
      {"explore", "schedules", KeyType::kInteger, L::kMinSchedules, kTomlMax},
      {"explore", "preemption_bound", KeyType::kInteger, 0, L::kMaxPreemptionBound},
      {"explore", "seed", KeyType::kInteger, 0, kTomlMax},
      {"explore", "points", KeyType::kString},
      {"explore", "watch", KeyType::kStrings},
      {"explore", "depth", KeyType::kInteger, L::kMinDepth, L::kMaxDepth},
      {"explore", "jobs", KeyType::kInteger, 0, L::kMaxJobs},
      {"explore", "max_time", KeyType::kNumber, 0, L::kMaxTimeSeconds},
      {"explore", "window", KeyType::kInteger, 0, L::kMaxWindow},
      {"explore", "reduction", KeyType::kString},
      {"explore", "switch_probability", KeyType::kNumber, 0, 1},
      {"explore", "checkpoints", KeyType::kBoolean},
      {"explore", "atomic_adds_commute", KeyType::kBoolean},
      {"protocol", "name", KeyType::kString},
      {"protocol", "reverse", KeyType::kBoolean},
      {"protocol", "defect", KeyType::kString},
      {"arm64", "idc", KeyType::kBoolean},
      {"arm64", "dic", KeyType::kBoolean},
      {"arm64", "fetch_coherent", KeyType::kBoolean},
      {"arm64", "fetch_model", KeyType::kBoolean},
      {"[[host_write]]", "target", KeyType::kString},
      {"[[host_write]]", "bytes", KeyType::kString},
      {"[[functions]]", "target", KeyType::kString},
      {"[[functions]]", "replacement", KeyType::kString},
      {"[[functions]]", "pure", KeyType::kBoolean},
  };
  return keys;
}

// What a valid document needs in each table besides the key under test.
std::string required(const std::string& table, const std::string& key) {
  auto unless = [&](const char* k, const std::string& line) { return key == k ? std::string() : line + "\n"; };
  if (table == "threads") return unless("count", "count = 1") + unless("entry", "entry = \"w\"");
  if (table == "protocol") return unless("name", "name = \"naive-jmp5\"");
  if (table == "[[host_write]]") return unless("target", "target = \"f\"") + unless("bytes", "bytes = \"c3\"");
  if (table == "[[functions]]")
    return unless("target", "target = \"f\"") + unless("replacement", "replacement = \"g\"");
  return "";
}

// A minimal scenario with `key = value` in its table (no key when value is empty).
std::string document(const Key& k, const std::string& value) {
  const std::string table = k.table, name = k.name;
  const bool patched = table == "protocol" || table == "[[functions]]";
  const std::string line = value.empty() ? "" : name + " = " + value + "\n";
  std::string top = table.empty() ? line : "";
  if (!(table.empty() && name == "name")) top += "name = \"keys\"\n";
  if (!(table.empty() && name == "arch")) top += table == "arm64" ? "arch = \"arm64\"\n" : "arch = \"x64\"\n";
  if (!(table.empty() && name == "base")) top += "base = \"x.dll\"\n";
  if (patched) top += "patch = \"p.dll\"\n";
  std::string doc = top;
  if (table != "threads") doc += "[threads]\n" + required("threads", "");
  if (patched && table != "protocol") doc += "[protocol]\n" + required("protocol", "");
  if (!table.empty()) {
    doc += table.starts_with("[[") ? table + "\n" : "[" + table + "]\n";
    doc += line + required(table, name);
  }
  return doc;
}

std::string field(const Key& k) {
  const std::string table = k.table;
  if (table.empty()) return k.name;
  if (table.starts_with("[[")) return table + "[0]." + k.name;
  return "[" + table + "]." + k.name;
}

std::string integerText(double v) { return std::to_string(static_cast<int64_t>(v)); }
std::string numberText(double v) {
  return v == static_cast<double>(static_cast<int64_t>(v)) ? integerText(v) : fmt::format("{}", v);
}
std::string rangeText(const Key& k) {
  if (k.type == KeyType::kNumber) return numberText(k.min) + ".." + numberText(k.max);
  return integerText(k.min) + ".." + (k.max == kTomlMax ? "9223372036854775807" : integerText(k.max));
}

// Loads the document: "" when it loads, else the message.
std::string load(const Key& k, const std::string& value, const std::string& file) {
  const std::string text = document(k, value);
  const std::string path = writeTempFile(file, {text.begin(), text.end()});
  auto scenario = loadScenario(path);
  return scenario ? "" : scenario.error().message;
}

std::string expected(const Key& k, const std::string& file, const std::string& problem) {
  return writeTempFile(file, {}) + ": " + field(k) + ": " + problem;
}

class ScenarioKey : public ::testing::TestWithParam<Key> {};

// The value of the right type loads; each value of another type is refused by name.
TEST_P(ScenarioKey, WrongTypeIsAnErrorNamingFileFieldAndType) {
  const Key& k = GetParam();
  const std::string file = std::string("key-") + k.name + ".toml";
  const std::map<std::string, std::string> values = {
      {"\"text\"", "a string"}, {"true", "a boolean"},   {"1.5", "a floating-point number"},
      {"7", "an integer"},      {"[\"a\"]", "an array"}, {"{ a = 1 }", "a table"}};
  std::string good, expectedType;
  switch (k.type) {
  case KeyType::kInteger:
    good = integerText(k.min);
    expectedType = "an integer in " + rangeText(k);
    break;
  case KeyType::kNumber:
    good = integerText(k.min);
    expectedType = "a number in " + rangeText(k);
    break;
  case KeyType::kBoolean:
    good = "true";
    expectedType = "true or false";
    break;
  case KeyType::kString:
    good = "";
    expectedType = "a string";
    break;
  case KeyType::kStrings:
    good = "[]";
    expectedType = "an array of strings";
    break;
  }
  if (!good.empty()) {
    EXPECT_EQ(load(k, good, file), "") << document(k, good);
  }
  for (const auto& [literal, type] : values) {
    const bool acceptable = (k.type == KeyType::kInteger && literal == "7") ||
                            (k.type == KeyType::kNumber && (literal == "7" || literal == "1.5")) ||
                            (k.type == KeyType::kBoolean && literal == "true") ||
                            (k.type == KeyType::kString && literal == "\"text\"") ||
                            (k.type == KeyType::kStrings && literal == "[\"a\"]");
    if (acceptable) continue;
    const std::string message = load(k, literal, file);
    if (k.type == KeyType::kStrings && literal == "[\"a\"]") continue;
    if (k.type == KeyType::kStrings && type == "an array") continue;
    EXPECT_EQ(message, expected(k, file, "expected " + expectedType + ", not " + type)) << document(k, literal);
  }
  if (k.type == KeyType::kStrings) {
    EXPECT_EQ(load(k, "[1]", file), expected(k, file, "expected an array of strings, not one holding an integer"));
  }
  if (k.type == KeyType::kString || k.type == KeyType::kStrings) {
    const std::string nul = k.type == KeyType::kString ? "\"a\\u0000b\"" : "[\"a\\u0000b\"]";
    EXPECT_EQ(load(k, nul, file), expected(k, file, "'a\\x00b' holds a control character")) << document(k, nul);
  }
}

// Integers and numbers: both ends of the range load, one past either end is refused with
// the range in the message (no wrapping to a small value).
class ScenarioNumber : public ::testing::TestWithParam<Key> {};

std::vector<Key> numericKeys() {
  std::vector<Key> out;
  for (const Key& k : scenarioKeys())
    if (k.type == KeyType::kInteger || k.type == KeyType::kNumber) out.push_back(k);
  return out;
}

TEST_P(ScenarioNumber, OutOfRangeIsAnErrorNamingTheRange) {
  const Key& k = GetParam();
  const std::string file = std::string("range-") + k.name + ".toml";
  const bool integer = k.type == KeyType::kInteger;
  auto text = [&](double v) { return integer ? integerText(v) : numberText(v); };
  EXPECT_EQ(load(k, text(k.min), file), "") << "min";
  const std::string maxText = k.max == kTomlMax ? "9223372036854775807" : text(k.max);
  EXPECT_EQ(load(k, maxText, file), "") << "max " << maxText;
  const std::string below = integer ? (k.min > 0 ? integerText(k.min - 1) : "-1") : "-0.5";
  EXPECT_EQ(load(k, below, file), expected(k, file, below + " is not in " + rangeText(k)));
  if (k.max != kTomlMax) {
    const std::string above = integer ? integerText(k.max + 1) : numberText(k.max + 0.5);
    EXPECT_EQ(load(k, above, file), expected(k, file, above + " is not in " + rangeText(k)));
  }
  // Past 2^32: the value that used to wrap a 32-bit field to 0, 1 or 2.
  if (integer && k.max < 4294967296.0) {
    for (const char* wrap : {"4294967296", "4294967297", "4294967298"})
      EXPECT_EQ(load(k, wrap, file), expected(k, file, std::string(wrap) + " is not in " + rangeText(k)));
  }
  if (!integer) {
    for (const char* odd : {"nan", "inf", "-inf"})
      EXPECT_NE(load(k, odd, file).find(field(k) + ": "), std::string::npos) << odd;
  }
}

std::string keyName(const ::testing::TestParamInfo<Key>& info) {
  std::string table = info.param.table;
  std::erase_if(table, [](char c) { return c == '[' || c == ']'; });
  return (table.empty() ? "top" : table) + "_" + info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Format, ScenarioKey, ::testing::ValuesIn(scenarioKeys()), keyName);
INSTANTIATE_TEST_SUITE_P(Format, ScenarioNumber, ::testing::ValuesIn(numericKeys()), keyName);

// Tables and arrays of tables written as plain values are errors, like unknown keys.
struct TableKey {
  const char* name;
  bool arrayOfTables;
};

class ScenarioTable : public ::testing::TestWithParam<TableKey> {};

TEST_P(ScenarioTable, PlainValueInsteadOfATableIsAnError) {
  const TableKey& t = GetParam();
  const std::string file = std::string("table-") + t.name + ".toml";
  const std::string head = "name = \"keys\"\narch = \"x64\"\nbase = \"x.dll\"\n";
  const std::string tail = std::string(t.name) == "threads" ? "" : "[threads]\ncount = 1\nentry = \"w\"\n";
  const std::string expectedType =
      t.arrayOfTables ? fmt::format("an array of tables ([[{}]])", t.name) : fmt::format("a table ([{}])", t.name);
  for (const auto& [literal, type] : std::vector<std::pair<std::string, std::string>>{
           {"\"x\"", "a string"}, {"3", "an integer"}, {"true", "a boolean"}, {"1.5", "a floating-point number"}}) {
    const std::string text = head + t.name + " = " + literal + "\n" + tail;
    const std::string path = writeTempFile(file, {text.begin(), text.end()});
    auto scenario = loadScenario(path);
    ASSERT_FALSE(scenario.ok()) << text;
    EXPECT_EQ(scenario.error().message, path + ": " + t.name + ": expected " + expectedType + ", not " + type);
  }
  const std::string array = head + t.name + " = [1, 2]\n" + tail;
  const std::string path = writeTempFile(file, {array.begin(), array.end()});
  auto scenario = loadScenario(path);
  ASSERT_FALSE(scenario.ok());
  EXPECT_EQ(scenario.error().message,
            t.arrayOfTables ? fmt::format("{}: [[{}]][0]: expected a table, not an integer", path, t.name)
                            : fmt::format("{}: {}: expected a table ([{}]), not an array", path, t.name, t.name));
}

INSTANTIATE_TEST_SUITE_P(Format, ScenarioTable,
                         ::testing::Values(TableKey{.name = "threads", .arrayOfTables = false},
                                           TableKey{.name = "check", .arrayOfTables = false},
                                           TableKey{.name = "explore", .arrayOfTables = false},
                                           TableKey{.name = "protocol", .arrayOfTables = false},
                                           TableKey{.name = "arm64", .arrayOfTables = false},
                                           TableKey{.name = "host_write", .arrayOfTables = true},
                                           TableKey{.name = "functions", .arrayOfTables = true}),
                         [](const auto& info) { return std::string(info.param.name); });

// The keys that combine: count x stack_size, host_write size, patch and patch_address.
TEST(ScenarioLimits, CombinedAndSpecialKeys) {
  auto loadText = [](const std::string& name, const std::string& text) {
    const std::string path = writeTempFile(name, {text.begin(), text.end()});
    auto s = loadScenario(path);
    return std::make_pair(path, s ? std::string() : s.error().message);
  };
  const std::string head = "arch = \"x64\"\nbase = \"x.dll\"\n";
  {
    auto [path, message] =
        loadText("stacks-ok.toml", head + "[threads]\ncount = 4\nstack_size = 67108864\nentry = \"w\"\n");
    EXPECT_EQ(message, "") << "4 x 64 MiB = 256 MiB is the limit itself";
  }
  {
    auto [path, message] =
        loadText("stacks-over.toml", head + "[threads]\ncount = 5\nstack_size = 67108864\nentry = \"w\"\n");
    EXPECT_EQ(message, path +
                           ": [threads].count x [threads].stack_size: 5 x 67108864 bytes = 320 MiB of stacks is more "
                           "than the limit of 256 MiB");
  }
  {
    auto [path, message] =
        loadText("hw-size.toml", head + "[threads]\nentry = \"w\"\n[[host_write]]\ntarget = \"f\"\nbytes = \"" +
                                     std::string(2 * 4097, 'c') + "\"\n");
    EXPECT_EQ(message, path + ": [[host_write]][0].bytes: 4097 bytes is not in 1..4096");
  }
  for (const char* bad : {"\"0x12345\"", "\"0\"", "\"xyz\"", "4096"}) {
    auto [path, message] = loadText("pa.toml", head + "patch = \"p.dll\"\npatch_address = " + bad +
                                                   "\n[threads]\nentry = \"w\"\n[protocol]\nname = \"naive-jmp5\"\n");
    EXPECT_EQ(message, path + ": patch_address: expected a nonzero hex address string aligned to 64 KiB, like "
                              "\"0x7ff600000000\"")
        << bad;
  }
  for (const auto& [value, problem] : std::vector<std::pair<std::string, std::string>>{
           {"3", "expected a patch image path or an array of them (a cumulative series), not an integer"},
           {"[3]", "expected an array of strings, not one holding an integer"},
           {"[]", "an empty series"}}) {
    auto [path, message] =
        loadText("patch.toml", head + "patch = " + value + "\n[threads]\nentry = \"w\"\n[protocol]\nname = \"x\"\n");
    EXPECT_EQ(message, path + ": patch: " + problem) << value;
  }
  for (const char* name : {"\"../x\"", "\"..\"", "\"a/b\"", "\"a b\""}) {
    auto [path, message] =
        loadText("names.toml", std::string("name = ") + name + "\n" + head + "[threads]\nentry = \"w\"\n");
    EXPECT_NE(message.find(path + ": name: "), std::string::npos) << name << ": " << message;
  }
}

}  // namespace
}  // namespace hph::test
