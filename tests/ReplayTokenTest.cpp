// Replay tokens: round trips, and the malformed ones decode() must refuse (a token is
// user input: it may be cut, edited or made up).
#include <gtest/gtest.h>

#include "harness/explore/ReplayToken.h"

namespace hph::test {
namespace {

ReplayToken sample() {
  ReplayToken token;
  token.scenarioPath = "/work/corpus/scenarios/race.x64.toml";
  token.digests.assign(4, std::vector<uint8_t>(ReplayToken::kDigestBytes, 0xAB));
  token.decisions = {{3, 1}, {17, kPatcher}, {18, 0}};
  return token;
}

TEST(ReplayToken, RoundTrips) {
  const ReplayToken token = sample();
  const std::string text = token.encode();
  EXPECT_TRUE(text.starts_with("hph2."));
  const auto back = ReplayToken::decode(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->scenarioPath, token.scenarioPath);
  EXPECT_EQ(back->digests, token.digests);
  EXPECT_EQ(back->decisions, token.decisions);
}

TEST(ReplayToken, RefusesWhatNoCheckWrites) {
  ReplayToken repeated = sample();
  repeated.decisions = {{5, 1}, {5, 0}};  // two decisions at one point
  EXPECT_FALSE(ReplayToken::decode(repeated.encode()));
  ReplayToken wrapping = sample();
  wrapping.decisions = {{UINT64_MAX - 1, 1}, {1, 0}};  // the second delta wraps past 2^64
  EXPECT_FALSE(ReplayToken::decode(wrapping.encode()));
  ReplayToken nul = sample();
  nul.scenarioPath = std::string("/tmp/a\0b.toml", 13);
  EXPECT_FALSE(ReplayToken::decode(nul.encode()));
  ReplayToken few = sample();
  few.digests.resize(2);  // not even versions, scenario and base
  EXPECT_FALSE(ReplayToken::decode(few.encode()));
  const std::string text = sample().encode();
  EXPECT_FALSE(ReplayToken::decode(text.substr(0, text.size() - 3)));  // cut short
  EXPECT_FALSE(ReplayToken::decode(text + "AAAA"));                    // trailing bytes
  EXPECT_FALSE(ReplayToken::decode("hph2.!!"));
  EXPECT_FALSE(ReplayToken::decode("hph1." + text.substr(5)));
}

}  // namespace
}  // namespace hph::test
