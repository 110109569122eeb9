#include "harness/explore/ReplayToken.h"

#include <fmt/format.h>

#include <filesystem>

#include "harness/explore/Session.h"
#include "harness/report/Provenance.h"
#include "support/Digest.h"
#include "support/HexText.h"

namespace hph {
namespace {

constexpr std::string_view kPrefix = "hph2.";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kMaxDecisions = 1 << 20;

void putVarint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

std::optional<uint64_t> getVarint(const std::vector<uint8_t>& in, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && at < in.size(); shift += 7) {
    const uint8_t b = in[at++];
    // The tenth byte holds bit 63 only: more would be lost, so the token is malformed.
    if (shift == 63 && (b & 0x7E)) return std::nullopt;
    v |= uint64_t{b & 0x7Fu} << shift;
    if (!(b & 0x80)) return v;
  }
  return std::nullopt;
}

// The patcher is 0, thread t is t + 1: small numbers for the common actors.
uint64_t actorCode(ActorId actor) { return actor == kPatcher ? 0 : static_cast<uint64_t>(actor) + 1; }
ActorId actorFromCode(uint64_t code) { return code == 0 ? kPatcher : static_cast<ActorId>(code - 1); }

std::string base64url(const std::vector<uint8_t>& bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 6) {
      out += kAlphabet[(buffer >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 63];
  return out;
}

std::optional<std::vector<uint8_t>> unbase64url(std::string_view text) {
  std::vector<uint8_t> out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const char* p = std::char_traits<char>::find(kAlphabet, 64, c);
    if (!p) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  return out;
}

// The first kDigestBytes of a SHA-256 written as hex.
// An unreadable input's digest is "": zeros, which no readable input matches.
std::vector<uint8_t> shortDigest(const std::string& hex) {
  std::vector<uint8_t> out = parseHexBytes(hex, {}).value_or(std::vector<uint8_t>{});
  out.resize(ReplayToken::kDigestBytes);
  return out;
}

std::vector<std::vector<uint8_t>> digestsOf(const ScenarioInputs& inputs) {
  Sha256 versions;
  versions.update(hphVersion());
  versions.update(unicornVersion());
  versions.update(liefVersion());
  std::vector<std::vector<uint8_t>> out{shortDigest(hexBytes(versions.finish(), HexLayout::kPacked)),
                                        shortDigest(inputs.scenarioSha256), shortDigest(inputs.baseSha256)};
  for (const PatchImage& p : inputs.layout.patches) out.push_back(shortDigest(p.sha256));
  return out;
}

}  // namespace

ReplayToken ReplayToken::of(const ScenarioInputs& inputs, std::vector<std::pair<uint64_t, ActorId>> decisions) {
  ReplayToken token;
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(inputs.scenario.path, ec);
  token.scenarioPath = ec ? inputs.scenario.path : absolute.lexically_normal().string();
  token.digests = digestsOf(inputs);
  token.decisions = std::move(decisions);
  return token;
}

std::string ReplayToken::changedInput(const ScenarioInputs& inputs) const {
  const auto now = digestsOf(inputs);
  if (digests.empty() || now[0] != digests[0]) return "it was made by another hph, Unicorn or LIEF version";
  if (now[1] != digests[1]) return fmt::format("the scenario {} changed since it was made", inputs.scenario.path);
  if (now[2] != digests[2]) return fmt::format("the base image {} changed since it was made", inputs.base->path);
  if (now.size() != digests.size())
    return fmt::format("the scenario now has {} patch images, the token was made with {}", now.size() - 3,
                       digests.size() - 3);
  for (size_t i = 3; i < now.size(); ++i)
    if (now[i] != digests[i])
      return fmt::format("patch[{}] {} changed since it was made", i - 3, inputs.layout.patches[i - 3].image->path);
  return "";
}

std::string ReplayToken::encode() const {
  std::vector<uint8_t> payload;
  putVarint(payload, scenarioPath.size());
  payload.insert(payload.end(), scenarioPath.begin(), scenarioPath.end());
  putVarint(payload, digests.size());
  for (const auto& digest : digests)
    for (size_t i = 0; i < kDigestBytes; ++i) payload.push_back(i < digest.size() ? digest[i] : 0);
  putVarint(payload, decisions.size());
  uint64_t previous = 0;
  for (const auto& [point, actor] : decisions) {
    putVarint(payload, point - previous);
    putVarint(payload, actorCode(actor));
    previous = point;
  }
  return std::string(kPrefix) + base64url(payload);
}

std::optional<ReplayToken> ReplayToken::decode(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (!text.starts_with(kPrefix)) return std::nullopt;
  auto payload = unbase64url(text.substr(kPrefix.size()));
  if (!payload) return std::nullopt;
  ReplayToken token;
  size_t at = 0;
  auto pathLength = getVarint(*payload, at);
  if (!pathLength || *pathLength > payload->size() - at) return std::nullopt;
  token.scenarioPath.assign(payload->begin() + at, payload->begin() + at + *pathLength);
  at += *pathLength;
  // A path with a NUL or another control character is not one a check wrote.
  for (unsigned char c : token.scenarioPath)
    if (c < 0x20 || c == 0x7F) return std::nullopt;
  auto inputs = getVarint(*payload, at);
  if (!inputs || *inputs < 3 || *inputs > kMaxInputs || payload->size() - at < *inputs * kDigestBytes)
    return std::nullopt;
  for (uint64_t i = 0; i < *inputs; ++i, at += kDigestBytes)
    token.digests.emplace_back(payload->begin() + at, payload->begin() + at + kDigestBytes);
  auto count = getVarint(*payload, at);
  if (!count || *count > kMaxDecisions) return std::nullopt;
  uint64_t point = 0;
  for (uint64_t i = 0; i < *count; ++i) {
    auto delta = getVarint(*payload, at);
    auto actor = getVarint(*payload, at);
    if (!delta || !actor || *actor > 0x7FFFFFFF) return std::nullopt;
    // Points strictly ascend (one decision per point) and do not wrap.
    if ((i > 0 && *delta == 0) || point + *delta < point) return std::nullopt;
    point += *delta;
    token.decisions.emplace_back(point, actorFromCode(*actor));
  }
  if (at != payload->size()) return std::nullopt;
  return token;
}

}  // namespace hph
