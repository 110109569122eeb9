#include "harness/gate/JsonReport.h"

#include <fstream>

namespace hph {

std::optional<nlohmann::json> readJsonReport(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

}  // namespace hph
