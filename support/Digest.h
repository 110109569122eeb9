// SHA-256 of the inputs a run depends on (provenance, and replay tokens refusing inputs
// that changed since the token was made).
#pragma once

#include <span>
#include <string>
#include <vector>

namespace hph {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const uint8_t> bytes);
  void update(std::string_view text);
  std::vector<uint8_t> finish();

 private:
  void* context_;
};

// The digest of a file's bytes as 64 hex characters ("" when unreadable).
std::string sha256OfFile(const std::string& path);

}  // namespace hph
