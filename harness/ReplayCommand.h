// `hph replay TOKEN|FILE [--scenario F] [--trace F] [--json]`: re-run one schedule bit for bit.
#pragma once

#include <optional>
#include <string>

namespace hph {

struct ReplayOptions {
  std::string token;  // a token, or a file holding one (a .replay file or a trace)
  std::optional<std::string> tracePath;
  // Another copy of the token's scenario (the digests must match).
  std::optional<std::string> scenario;
  bool json = false;
};

int runReplay(const ReplayOptions& options);

}  // namespace hph
