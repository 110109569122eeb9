// What one scenario's report says of each property its architecture is checked for: the
// JUnit test cases and the HTML report's property table (expected against found).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace hph {

struct PropertyCase {
  std::string name;              // a property ("C1", "guest", "vacuity") or "input", "exploration", "refused"
  std::string failure;           // empty: passed
  std::string kind = "failure";  // or "error", "skipped"
  std::string out;
};

// From one scenario report of hph-check/3.
std::vector<PropertyCase> propertyCases(const nlohmann::json& scenario);

// Text for XML and HTML: markup characters escaped, control characters but tab and
// newlines shown as \xNN (XML 1.0 allows no others).
std::string markupEscape(std::string_view text);
// A string field, or "" when absent or not a string; a boolean field, or false.
std::string jsonText(const nlohmann::json& j, const char* key);
bool jsonFlag(const nlohmann::json& j, const char* key);

}  // namespace hph
