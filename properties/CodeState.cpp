#include "properties/CodeState.h"

#include <algorithm>
#include <cstring>

#include "patch/LiveCode.h"

namespace hph {
namespace {

constexpr uint64_t kWord = 4;
constexpr size_t kMaxInstruction = 16;

bool isX64Padding(uint8_t b) { return b == 0xCC || b == 0x90; }

}  // namespace

CodeState::CodeState(const Arch& arch, const std::vector<PatchSite>& sites, bool idc, bool dic)
    : arch_(arch), idc_(idc), dic_(dic) {
  for (CodeRegion& r : mergeRegions(siteRegions(sites))) {
    Region region;
    region.address = r.address;
    region.original = r.bytes;
    region.current = std::move(r.bytes);
    region.written.assign(region.current.size(), false);
    regions_.push_back(std::move(region));
  }
  // Original boundaries (x64): each function decoded from its entry, and the int3/nop
  // padding right before it as one-byte instructions. Arm64 has them at every word.
  if (arch.kind() != ArchKind::kX64) return;
  for (const PatchSite& site : sites) {
    uint64_t pc = site.entry;
    while (pc < site.entry + site.code.size()) {
      const auto bytes = bytesAt(pc, std::min<size_t>(kMaxInstruction, site.entry + site.code.size() - pc));
      const DecodedInstruction insn = arch.decode(bytes, pc);
      if (!insn.valid) break;
      originalBoundaries_[pc] = insn.length;
      pc += insn.length;
    }
    for (size_t i = site.before.size(); i > 0 && isX64Padding(site.before[i - 1]); --i)
      originalBoundaries_[site.entry - (site.before.size() - i) - 1] = 1;
  }
}

void CodeState::reset() {
  for (Region& r : regions_) {
    r.current = r.original;
    std::fill(r.written.begin(), r.written.end(), false);
  }
  anchors_.clear();
  newBoundaries_.clear();
  inFlight_.reset();
  inFlightStep_.reset();
  versions_.clear();
  step_ = 0;
}

const CodeState::Region* CodeState::regionOf(uint64_t address) const {
  for (const Region& r : regions_)
    if (address >= r.address && address < r.address + r.current.size()) return &r;
  return nullptr;
}
CodeState::Region* CodeState::regionOf(uint64_t address) {
  return const_cast<Region*>(static_cast<const CodeState*>(this)->regionOf(address));
}

bool CodeState::tracked(uint64_t address) const { return regionOf(address) != nullptr; }

std::optional<uint8_t> CodeState::byteAt(uint64_t address) const {
  const Region* r = regionOf(address);
  if (!r) return std::nullopt;
  return r->current[address - r->address];
}

std::vector<uint8_t> CodeState::bytesAt(uint64_t address, size_t size) const {
  const Region* r = regionOf(address);
  if (!r) return {};
  const size_t offset = address - r->address;
  const size_t n = std::min(size, r->current.size() - offset);
  return {r->current.begin() + offset, r->current.begin() + offset + n};
}

bool CodeState::modified(uint64_t address) const {
  const Region* r = regionOf(address);
  return r && r->current[address - r->address] != r->original[address - r->address];
}

void CodeState::beginStore(size_t step, uint64_t address, uint64_t size) {
  // A store starting on an instruction, or anywhere no original instruction covers (the
  // padding, the hotpatch area), begins new code; one starting inside an original
  // instruction only rewrites part of it (int3-3step's tail).
  const bool insideOriginal = std::any_of(originalBoundaries_.begin(), originalBoundaries_.end(),
                                          [&](const auto& b) { return b.first < address && address < b.first + b.second; });
  if ((boundaryAt(address) || !insideOriginal) && std::find(anchors_.begin(), anchors_.end(), address) == anchors_.end())
    anchors_.push_back(address);
  inFlight_ = std::make_pair(address, address + size);
  inFlightStep_ = step;
}

void CodeState::writePiece(uint64_t address, std::span<const uint8_t> bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    Region* r = regionOf(address + i);
    if (!r) continue;
    r->current[address + i - r->address] = bytes[i];
    r->written[address + i - r->address] = true;
  }
  if (arch_.kind() == ArchKind::kArm64) {
    for (uint64_t w = address & ~(kWord - 1); w < address + bytes.size(); w += kWord) {
      const auto word = bytesAt(w, kWord);
      if (word.size() != kWord) continue;
      auto& history = versions_[w];
      if (history.empty()) {
        const Region* r = regionOf(w);
        uint32_t original = 0;
        std::memcpy(&original, &r->original[w - r->address], 4);
        history.push_back({original, size_t{0}, 0});
      }
      uint32_t value = 0;
      std::memcpy(&value, word.data(), 4);
      history.push_back({value, dic_ ? std::optional<size_t>(step_ + 1) : std::nullopt, step_});
    }
  }
  recomputeNewBoundaries();
}

void CodeState::endStore() {
  inFlight_.reset();
  inFlightStep_.reset();
}

std::optional<std::pair<uint64_t, uint64_t>> CodeState::inFlight() const { return inFlight_; }

void CodeState::recomputeNewBoundaries() {
  newBoundaries_.clear();
  if (arch_.kind() != ArchKind::kX64) return;
  for (uint64_t anchor : anchors_) {
    uint64_t pc = anchor;
    // Decode across what stores changed; stop after control leaves or at unchanged code.
    while (tracked(pc)) {
      const auto bytes = bytesAt(pc, kMaxInstruction);
      const DecodedInstruction insn = arch_.decode(bytes, pc);
      if (!insn.valid) break;
      bool touched = false;
      for (uint64_t a = pc; a < pc + insn.length; ++a) touched = touched || modified(a);
      if (!touched) break;
      newBoundaries_[pc] = insn.length;
      if (insn.flow != Flow::kNext && insn.flow != Flow::kConditional && insn.flow != Flow::kCall) break;
      pc += insn.length;
    }
  }
}

std::optional<uint32_t> CodeState::originalLength(uint64_t pc) const {
  const auto it = originalBoundaries_.find(pc);
  if (it == originalBoundaries_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> CodeState::boundaryAt(uint64_t pc) const {
  if (arch_.kind() == ArchKind::kArm64) {
    if (pc % kWord || !tracked(pc)) return std::nullopt;
    return static_cast<uint32_t>(kWord);
  }
  if (const auto it = newBoundaries_.find(pc); it != newBoundaries_.end()) return it->second;
  if (const auto length = originalLength(pc)) {
    for (uint64_t a = pc; a < pc + *length; ++a)
      if (modified(a)) return std::nullopt;
    return length;
  }
  return std::nullopt;
}

bool CodeState::misplaced(uint64_t pc, uint32_t length) const {
  if (boundaryAt(pc) || !tracked(pc)) return false;
  for (uint64_t a = pc; a < pc + length; ++a)
    if (modified(a)) return true;
  auto inside = [&](const std::map<uint64_t, uint32_t>& starts) {
    auto it = starts.upper_bound(pc);
    if (it == starts.begin()) return false;
    --it;
    return it->first < pc && pc < it->first + it->second;
  };
  return inside(originalBoundaries_) || inside(newBoundaries_);
}

void CodeState::cacheMaintenance(uint64_t address, uint64_t size, bool cleanData, bool invalidateInstructions) {
  if (!(cleanData || idc_) || !(invalidateInstructions || dic_)) return;
  for (auto& [word, history] : versions_)
    if (word + kWord > address && word < address + size)
      for (Version& v : history)
        if (!v.visibleAt) v.visibleAt = step_ + 1;
}

bool CodeState::pending(uint64_t address, uint64_t size) const {
  for (const auto& [word, history] : versions_)
    if (word + kWord > address && word < address + size && !history.back().visibleAt) return true;
  return false;
}

const std::vector<CodeState::Version>* CodeState::versions(uint64_t wordAddress) const {
  const auto it = versions_.find(wordAddress);
  return it == versions_.end() ? nullptr : &it->second;
}

}  // namespace hph
