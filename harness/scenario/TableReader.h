// Reading one TOML table of a scenario strictly: every error names "<file>: [table].key",
// unknown keys are refused (a typo must not silently change what is checked), types are
// exact and integers are range-checked (harness/scenario/Limits.h) before they narrow.
// Only Scenario.cpp reads scenario tables; this is its reader, kept apart so the file
// that says what a scenario is stays about that.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <set>
#include <string>
#include <toml++/toml.h>

#include "harness/scenario/Limits.h"
#include "support/EchoText.h"
#include "support/HexText.h"
#include "support/InputFile.h"
#include "support/NumberText.h"
#include "support/Result.h"

namespace hph::scenario_toml {

// A number as a message shows it: whole numbers without an exponent ("31536000").
inline std::string numberText(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

// What a TOML node is, for "expected X, not Y" messages.
inline std::string_view typeName(const toml::node& node) {
  switch (node.type()) {
  case toml::node_type::string: return "a string";
  case toml::node_type::integer: return "an integer";
  case toml::node_type::floating_point: return "a floating-point number";
  case toml::node_type::boolean: return "a boolean";
  case toml::node_type::array: return "an array";
  case toml::node_type::table: return "a table";
  default: return "a date or time";
  }
}

// A TOML file read whole (at most `maxBytes`) and parsed; a syntax error is bad input
// naming "<file>:<line>:<column>".
inline Result<toml::table> parseTomlFile(const std::string& path, uint64_t maxBytes) {
  auto text = readInputText(path, maxBytes);
  if (!text) return text.error();
  try {
    return toml::parse(*text, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return badInput(
        fmt::format("{}:{}:{}: {}", echoText(path, 200), where.line, where.column, echoText(e.description(), 200)));
  }
}

// Reads one table of a scenario, naming "<file>: [table].key" in every error and
// refusing keys it does not know (a typo must not silently change what is checked).
// Every read is strict about the node's type: a boolean is not an integer, a string is
// not a table; every integer is checked against its documented range (Limits.h) before
// it is narrowed, so nothing wraps.
class TableReader {
 public:
  TableReader(const std::string& file, const toml::table* table, std::string prefix)
      : file_(echoText(file, 200)), table_(table), prefix_(std::move(prefix)) {}

  std::string field(std::string_view key) const {
    return fmt::format("{}{}", prefix_, echoText(key, limits::kMaxEchoedChars));
  }
  Error error(std::string_view key, const std::string& problem) const {
    return badInput(fmt::format("{}: {}: {}", file_, field(key), problem));
  }
  Error typeError(std::string_view key, std::string_view expected, const toml::node& node) const {
    return error(key, fmt::format("expected {}, not {}", expected, typeName(node)));
  }

  const toml::node* node(std::string_view key) {
    known_.insert(std::string(key));
    return table_ ? table_->get(key) : nullptr;
  }

  Result<std::optional<bool>> boolean(std::string_view key) {
    const toml::node* n = node(key);
    if (!n) return std::optional<bool>{};
    if (!n->is_boolean()) return typeError(key, "true or false", *n);
    return std::optional<bool>(n->as_boolean()->get());
  }

  // An integer in min..max (both inclusive).
  Result<std::optional<uint64_t>> integer(std::string_view key, uint64_t min, uint64_t max) {
    const toml::node* n = node(key);
    if (!n) return std::optional<uint64_t>{};
    if (!n->is_integer()) return typeError(key, fmt::format("an integer in {}..{}", min, max), *n);
    const int64_t v = n->as_integer()->get();
    if (v < 0 || static_cast<uint64_t>(v) < min || static_cast<uint64_t>(v) > max)
      return error(key, fmt::format("{} is not in {}..{}", v, min, max));
    return std::optional<uint64_t>(static_cast<uint64_t>(v));
  }

  // A finite number in min..max; an integer is taken as its value.
  Result<std::optional<double>> number(std::string_view key, double min, double max) {
    const toml::node* n = node(key);
    if (!n) return std::optional<double>{};
    double v = 0;
    if (n->is_integer())
      v = static_cast<double>(n->as_integer()->get());
    else if (n->is_floating_point())
      v = n->as_floating_point()->get();
    else
      return typeError(key, fmt::format("a number in {}..{}", numberText(min), numberText(max)), *n);
    if (!std::isfinite(v) || v < min || v > max)
      return error(key, fmt::format("{} is not in {}..{}", numberText(v), numberText(min), numberText(max)));
    return std::optional<double>(v);
  }

  // A string without control characters: a NUL would cut the path the OS opens short of
  // the one written, and a newline would split the one-line message that echoes it.
  Result<std::optional<std::string>> string(std::string_view key) {
    const toml::node* n = node(key);
    if (!n) return std::optional<std::string>{};
    if (!n->is_string()) return typeError(key, "a string", *n);
    return checkedString(key, n->as_string()->get());
  }

  Result<std::optional<std::string>> checkedString(std::string_view key, const std::string& v) const {
    if (hasControlCharacter(v))
      return error(key, fmt::format("'{}' holds a control character", echoText(v, limits::kMaxEchoedChars)));
    return std::optional<std::string>(v);
  }

  Result<std::vector<std::string>> strings(std::string_view key) {
    std::vector<std::string> out;
    const toml::node* n = node(key);
    if (!n) return out;
    const toml::array* array = n->as_array();
    if (!array) return typeError(key, "an array of strings", *n);
    for (const toml::node& item : *array) {
      if (!item.is_string())
        return error(key, fmt::format("expected an array of strings, not one holding {}", typeName(item)));
      auto v = checkedString(key, item.as_string()->get());
      if (!v) return v.error();
      out.push_back(**v);
    }
    return out;
  }

  // A sub-table ([threads]): absent is fine, anything else than a table is an error
  // (`check = "race_verify"` must not make the invariant and `expect` vanish).
  Result<const toml::table*> table(std::string_view key) {
    const toml::node* n = node(key);
    if (!n) return static_cast<const toml::table*>(nullptr);
    if (!n->is_table()) return typeError(key, fmt::format("a table ([{}])", key), *n);
    return n->as_table();
  }

  // An array of tables ([[host_write]]): each element must be a table.
  Result<std::vector<const toml::table*>> tables(std::string_view key) {
    std::vector<const toml::table*> out;
    const toml::node* n = node(key);
    if (!n) return out;
    const toml::array* array = n->as_array();
    if (!array) return typeError(key, fmt::format("an array of tables ([[{}]])", key), *n);
    for (size_t i = 0; i < array->size(); ++i) {
      if (!(*array)[i].is_table())
        return badInput(fmt::format("{}: [[{}]][{}]: expected a table, not {}", file_, key, i, typeName((*array)[i])));
      out.push_back((*array)[i].as_table());
    }
    return out;
  }

  void allow(std::string_view key) { known_.insert(std::string(key)); }

  Result<void> rejectUnknown() const {
    if (!table_) return {};
    for (const auto& [key, value] : *table_)
      if (!known_.count(std::string(key.str())))
        return badInput(fmt::format("{}: {}: unknown key", file_, field(key.str())));
    return {};
  }

 private:
  std::string file_;
  const toml::table* table_;
  std::string prefix_;
  std::set<std::string> known_;
};

#define HPH_TRY_ASSIGN(target, expr)                                                                                   \
  do {                                                                                                                 \
    auto _r = (expr);                                                                                                  \
    if (!_r) return _r.error();                                                                                        \
    if (_r.value()) target = *_r.value();                                                                              \
  } while (0)

#define HPH_TRY_TABLE(target, expr)                                                                                    \
  do {                                                                                                                 \
    auto _r = (expr);                                                                                                  \
    if (!_r) return _r.error();                                                                                        \
    target = _r.value();                                                                                               \
  } while (0)

}  // namespace hph::scenario_toml
