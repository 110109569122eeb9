#include "patch/LiveCode.h"

#include <algorithm>
#include <deque>

namespace hph {
namespace {

// The tracked code as the plan has changed it, with two marks per byte: fetched by a
// reachable instruction, and read as data by one, at some step since its last release.
class TrackedCode {
 public:
  explicit TrackedCode(std::vector<CodeRegion> regions) : regions_(mergeRegions(std::move(regions))) {
    for (const CodeRegion& r : regions_) {
      fetched_.emplace_back(r.bytes.size(), false);
      read_.emplace_back(r.bytes.size(), false);
    }
  }

  // Marks what is reachable from the entries in memory as it is now.
  void markReachable(const Arch& arch, const std::vector<uint64_t>& entries) {
    std::vector<uint64_t> seen;
    std::deque<uint64_t> work(entries.begin(), entries.end());
    while (!work.empty()) {
      const uint64_t pc = work.front();
      work.pop_front();
      const int r = regionOf(pc);
      if (r < 0 || std::find(seen.begin(), seen.end(), pc) != seen.end()) continue;
      seen.push_back(pc);
      const CodeRegion& region = regions_[r];
      const size_t offset = pc - region.address;
      const std::span<const uint8_t> rest(region.bytes.data() + offset, region.bytes.size() - offset);
      const DecodedInstruction insn = arch.decode(rest.first(std::min<size_t>(rest.size(), 16)), pc);
      const size_t length = std::min<size_t>(insn.valid ? insn.length : 1, rest.size());
      for (size_t i = 0; i < length; ++i) fetched_[r][offset + i] = true;
      for (uint32_t i = 0; i < insn.dataReadBytes; ++i) mark(read_, insn.dataRead + i);
      if (insn.flow == Flow::kNext || insn.flow == Flow::kConditional || insn.flow == Flow::kCall)
        work.push_back(pc + length);
      if (insn.flow == Flow::kJump || insn.flow == Flow::kConditional || insn.flow == Flow::kCall)
        work.push_back(insn.target);
    }
  }

  bool anyMarked(bool data, uint64_t address, uint64_t size) const {
    const auto& marks = data ? read_ : fetched_;
    for (uint64_t a = address; a < address + size; ++a) {
      const int r = regionOf(a);
      if (r >= 0 && marks[r][a - regions_[r].address]) return true;
    }
    return false;
  }

  void write(uint64_t address, const std::vector<uint8_t>& bytes) {
    for (size_t i = 0; i < bytes.size(); ++i)
      if (const int r = regionOf(address + i); r >= 0) regions_[r].bytes[address + i - regions_[r].address] = bytes[i];
  }

  void release(uint64_t address, uint64_t size) {
    for (uint64_t a = address; a < address + size; ++a)
      if (const int r = regionOf(a); r >= 0) fetched_[r][a - regions_[r].address] = read_[r][a - regions_[r].address] = false;
  }

 private:
  static uint64_t end(const CodeRegion& r) { return r.address + r.bytes.size(); }
  int regionOf(uint64_t address) const {
    for (size_t i = 0; i < regions_.size(); ++i)
      if (address >= regions_[i].address && address < end(regions_[i])) return static_cast<int>(i);
    return -1;
  }
  void mark(std::vector<std::vector<bool>>& marks, uint64_t address) {
    if (const int r = regionOf(address); r >= 0) marks[r][address - regions_[r].address] = true;
  }

  std::vector<CodeRegion> regions_;
  std::vector<std::vector<bool>> fetched_, read_;
};

}  // namespace

std::vector<CodeRegion> siteRegions(const std::vector<PatchSite>& sites) {
  std::vector<CodeRegion> regions;
  for (const PatchSite& site : sites) {
    std::vector<uint8_t> bytes = site.before;
    bytes.insert(bytes.end(), site.code.begin(), site.code.end());
    regions.push_back({site.entry - site.before.size(), std::move(bytes)});
    regions.push_back({site.scratch, std::vector<uint8_t>(kScratchPerSite, 0)});
  }
  return regions;
}

std::vector<CodeRegion> mergeRegions(std::vector<CodeRegion> regions) {
  std::sort(regions.begin(), regions.end(), [](const auto& a, const auto& b) { return a.address < b.address; });
  std::vector<CodeRegion> merged;
  for (CodeRegion& r : regions) {
    if (!merged.empty() && r.address <= merged.back().address + merged.back().bytes.size()) {
      CodeRegion& last = merged.back();
      const uint64_t end = last.address + last.bytes.size();
      const uint64_t newEnd = std::max(end, r.address + r.bytes.size());
      last.bytes.resize(newEnd - last.address);
      for (uint64_t a = end; a < newEnd; ++a) last.bytes[a - last.address] = r.bytes[a - r.address];
    } else {
      merged.push_back(std::move(r));
    }
  }
  return merged;
}

void analyzeLiveness(const Arch& arch, std::vector<CodeRegion> regions, const std::vector<uint64_t>& entries,
                     Plan& plan) {
  TrackedCode code(std::move(regions));
  bool suspended = false;
  for (Step& step : plan.steps) {
    code.markReachable(arch, entries);
    if (auto* store = std::get_if<StoreStep>(&step)) {
      store->live = !suspended && code.anyMarked(store->data, store->address, store->bytes.size());
      code.write(store->address, store->bytes);
    } else if (const auto* release = std::get_if<ReleaseStep>(&step)) {
      code.release(release->address, release->size);
    } else if (std::holds_alternative<SuspendAllStep>(step)) {
      suspended = true;
    } else if (std::holds_alternative<ResumeAllStep>(step)) {
      suspended = false;
    }
  }
}

}  // namespace hph
