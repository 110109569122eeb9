// SplitMix64: a tiny generator whose output is fully specified, so the same seed gives the
// same schedules on every machine and standard library (std::uniform_int_distribution
// is implementation-defined).
#pragma once

#include <cstdint>

namespace hph {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  // The generator for schedule `index` of a run seeded with `seed`.
  static Rng forSchedule(uint64_t seed, uint64_t index) {
    Rng mix(seed ^ (index * 0x9E3779B97F4A7C15ull));
    mix.next();
    return Rng(mix.next());
  }
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (n > 0); the modulo bias is below 2^-40 for the n used here.
  uint64_t below(uint64_t n) { return next() % n; }
  // true with probability p.
  bool chance(double p) { return (next() >> 11) * 0x1.0p-53 < p; }

 private:
  uint64_t state_;
};

}  // namespace hph
