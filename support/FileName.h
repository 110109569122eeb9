// The last component of a path, as messages name an input file ("counter.x64.dll").
#pragma once

#include <filesystem>
#include <string>

namespace hph {

inline std::string fileNameOf(const std::string& path) { return std::filesystem::path(path).filename().string(); }

}  // namespace hph
