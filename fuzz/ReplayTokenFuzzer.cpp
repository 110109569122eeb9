// libFuzzer target: a replay token from untrusted text. Decoding refuses what is not a
// token; what it accepts must encode back to a token that decodes to the same content.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "harness/explore/ReplayToken.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto token = hph::ReplayToken::decode(text);
  if (!token) return 0;
  const auto again = hph::ReplayToken::decode(token->encode());
  if (!again || again->scenarioPath != token->scenarioPath || again->digests != token->digests ||
      again->decisions != token->decisions) {
    std::fprintf(stderr, "replay token does not survive encode/decode\n");
    std::abort();
  }
  return 0;
}
