#include "patch/LiveCode.h"

#include <algorithm>
#include <deque>

namespace hph {
namespace {

// The tracked code as the plan has changed it, with two marks per byte: fetched by a
// reachable instruction, and read as data by one, at some step since its last release.
class TrackedCode {
 public:
  explicit TrackedCode(std::vector<CodeRegion> regions)
      : code_(std::move(regions)), fetched_(code_.size(), false), read_(code_.size(), false) {}

  // Marks what is reachable from the entries in memory as it is now.
  void markReachable(const Arch& arch, const std::vector<uint64_t>& entries) {
    std::vector<uint64_t> seen;
    std::deque<uint64_t> work(entries.begin(), entries.end());
    while (!work.empty()) {
      const uint64_t pc = work.front();
      work.pop_front();
      if (!code_.contains(pc) || std::find(seen.begin(), seen.end(), pc) != seen.end()) continue;
      seen.push_back(pc);
      const std::span<const uint8_t> bytes = code_.bytesAt(pc, 16);
      const DecodedInstruction insn = arch.decode(bytes, pc);
      const size_t length = std::min<size_t>(insn.valid ? insn.length : 1, bytes.size());
      for (size_t i = 0; i < length; ++i) mark(fetched_, pc + i);
      for (uint32_t i = 0; i < insn.dataReadBytes; ++i) mark(read_, insn.dataRead + i);
      if (insn.flow == Flow::kNext || insn.flow == Flow::kConditional || insn.flow == Flow::kCall)
        work.push_back(pc + length);
      if (insn.flow == Flow::kJump || insn.flow == Flow::kConditional || insn.flow == Flow::kCall)
        work.push_back(insn.target);
    }
  }

  bool anyMarked(bool data, uint64_t address, uint64_t size) const {
    const auto& marks = data ? read_ : fetched_;
    for (uint64_t a = address; a < address + size; ++a)
      if (const auto index = code_.indexOf(a); index && marks[*index]) return true;
    return false;
  }

  void write(uint64_t address, const std::vector<uint8_t>& bytes) { code_.write(address, bytes); }

  void release(uint64_t address, uint64_t size) {
    for (uint64_t a = address; a < address + size; ++a)
      if (const auto index = code_.indexOf(a)) fetched_[*index] = read_[*index] = false;
  }

 private:
  void mark(std::vector<bool>& marks, uint64_t address) {
    if (const auto index = code_.indexOf(address)) marks[*index] = true;
  }

  CodeImage code_;
  std::vector<bool> fetched_, read_;
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

bool inSiteRegions(const PatchSite& site, uint64_t address) {
  return (address >= site.entry - site.before.size() && address < site.entry + site.code.size()) ||
         (address >= site.scratch && address < site.scratch + kScratchPerSite);
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
