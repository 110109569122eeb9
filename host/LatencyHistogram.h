// Call latencies of the runner's threads, kept as counts in log-spaced buckets (eight per
// power of two, so a percentile is within 12.5% of the true value): a thread records
// millions of calls without keeping them, and the histograms of all threads add up.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace hph {

class LatencyHistogram {
 public:
  static constexpr size_t kBuckets = 16 + 60 * 8;

  void add(uint64_t ns) {
    ++counts_[bucketOf(ns)];
    ++count_;
    max_ = std::max(max_, ns);
  }
  void merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
  }
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  // Nearest rank, as its bucket's upper end (never above the largest seen); 0 when empty.
  uint64_t percentile(double p) const {
    if (count_ == 0) return 0;
    const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(p * static_cast<double>(count_))));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i)
      if ((seen += counts_[i]) >= rank) return std::min(max_, upperOf(i));
    return max_;
  }

  nlohmann::json toJson() const {
    nlohmann::json buckets = nlohmann::json::array();
    for (size_t i = 0; i < kBuckets; ++i)
      if (counts_[i]) buckets.push_back({i, counts_[i]});
    return {{"buckets", buckets}, {"max", max_}};
  }
  static LatencyHistogram fromJson(const nlohmann::json& j) {
    LatencyHistogram h;
    if (!j.is_object()) return h;
    for (const auto& b : j.value("buckets", nlohmann::json::array()))
      if (b.is_array() && b.size() == 2 && b[0].get<size_t>() < kBuckets) {
        h.counts_[b[0].get<size_t>()] += b[1].get<uint64_t>();
        h.count_ += b[1].get<uint64_t>();
      }
    h.max_ = j.value("max", uint64_t{0});
    return h;
  }

  static size_t bucketOf(uint64_t ns) {
    if (ns < 16) return static_cast<size_t>(ns);
    const int e = std::bit_width(ns) - 1;  // >= 4
    return 16 + static_cast<size_t>(e - 4) * 8 + static_cast<size_t>((ns >> (e - 3)) & 7);
  }
  static uint64_t upperOf(size_t bucket) {
    if (bucket < 16) return bucket;
    const int e = static_cast<int>((bucket - 16) / 8) + 4;
    const uint64_t sub = (bucket - 16) % 8;
    return ((9 + sub) << (e - 3)) - 1;
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace hph
