// File names as messages and checks need them: the last component of a path, as messages
// name an input file ("counter.x64.dll"), and whether two paths name one file.
#pragma once

#include <filesystem>
#include <string>

namespace hph {

inline std::string fileNameOf(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// Whether two paths name the same file, existing or not (a report about to be written must
// not replace an input or another report); textually when either cannot be resolved.
inline bool sameFile(const std::string& a, const std::string& b) {
  std::error_code ec;
  const auto ca = std::filesystem::weakly_canonical(a, ec);
  if (ec) return a == b;
  const auto cb = std::filesystem::weakly_canonical(b, ec);
  return ec ? a == b : ca == cb;
}

}  // namespace hph
