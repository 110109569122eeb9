#include "properties/CodeState.h"

#include <algorithm>
#include <cstring>

#include "patch/LiveCode.h"  // siteRegions

namespace hph {
namespace {

constexpr uint64_t kWord = 4;
constexpr size_t kMaxInstruction = 16;

}  // namespace

CodeState::CodeState(const Arch& arch, const std::vector<PatchSite>& sites, bool idc, bool dic)
    : arch_(&arch), idc_(idc), dic_(dic), original_(siteRegions(sites)), current_(original_) {
  // Original boundaries where instruction lengths vary (x64): each function decoded from
  // its entry, and the padding right before it (int3/nop) as one-byte instructions. With
  // a fixed width (Arm64) every aligned address is one (boundaryAt).
  if (arch.facts().fixedInstructionBytes) return;
  for (const PatchSite& site : sites) {
    uint64_t pc = site.entry;
    while (pc < site.entry + site.code.size()) {
      const auto bytes = bytesAt(pc, std::min<size_t>(kMaxInstruction, site.entry + site.code.size() - pc));
      const DecodedInstruction insn = arch.decode(bytes, pc);
      if (!insn.valid) break;
      originalBoundaries_[pc] = insn.length;
      pc += insn.length;
    }
    for (size_t i = site.before.size(); i > 0 && arch.isPadding(std::span(site.before).subspan(i - 1, 1)); --i)
      originalBoundaries_[site.entry - (site.before.size() - i) - 1] = 1;
  }
}

void CodeState::reset() {
  current_ = original_;
  anchors_.clear();
  newBoundaries_.clear();
  inFlight_.reset();
  inFlightStep_.reset();
  versions_.clear();
  step_ = 0;
}

bool CodeState::tracked(uint64_t address) const { return original_.contains(address); }

std::optional<uint8_t> CodeState::byteAt(uint64_t address) const {
  const auto index = current_.indexOf(address);
  if (!index) return std::nullopt;
  return current_.at(*index);
}

std::vector<uint8_t> CodeState::bytesAt(uint64_t address, size_t size) const {
  const std::span<const uint8_t> bytes = current_.bytesAt(address, size);
  return {bytes.begin(), bytes.end()};
}

std::span<const uint8_t> CodeState::viewAt(uint64_t address, size_t size) const {
  return current_.bytesAt(address, size);
}

bool CodeState::modified(uint64_t address) const {
  const auto index = current_.indexOf(address);
  return index && current_.at(*index) != original_.at(*index);
}

std::optional<uint32_t> CodeState::originalWord(uint64_t address) const {
  const std::span<const uint8_t> bytes = original_.bytesAt(address, kWord);
  if (bytes.size() != kWord) return std::nullopt;
  uint32_t word = 0;
  std::memcpy(&word, bytes.data(), kWord);
  return word;
}

void CodeState::beginStore(size_t step, uint64_t address, uint64_t size) {
  // A store starting on an instruction, or anywhere no original instruction covers (the
  // padding, the hotpatch area), begins new code; one starting inside an original
  // instruction only rewrites part of it (int3-3step's tail).
  const bool insideOriginal = std::any_of(originalBoundaries_.begin(), originalBoundaries_.end(), [&](const auto& b) {
    return b.first < address && address < b.first + b.second;
  });
  if ((boundaryAt(address) || !insideOriginal) &&
      std::find(anchors_.begin(), anchors_.end(), address) == anchors_.end())
    anchors_.push_back(address);
  inFlight_ = std::make_pair(address, address + size);
  inFlightStep_ = step;
}

void CodeState::writePiece(uint64_t address, std::span<const uint8_t> bytes) {
  current_.write(address, bytes);
  // Where fetch may see stale code, each word's versions (what a thread may still fetch).
  if (!arch_->facts().fetchCoherentWithStores) {
    for (uint64_t w = address & ~(kWord - 1); w < address + bytes.size(); w += kWord) {
      const auto word = bytesAt(w, kWord);
      const auto original = originalWord(w);
      if (word.size() != kWord || !original) continue;
      auto& history = versions_[w];
      if (history.empty()) history.push_back({*original, size_t{0}, 0});
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
  if (arch_->facts().fixedInstructionBytes) return;  // every aligned address is a boundary
  for (uint64_t anchor : anchors_) {
    uint64_t pc = anchor;
    // Decode across what stores changed; stop after control leaves or at unchanged code.
    while (tracked(pc)) {
      const auto bytes = bytesAt(pc, kMaxInstruction);
      const DecodedInstruction insn = arch_->decode(bytes, pc);
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
  if (const uint32_t width = arch_->facts().fixedInstructionBytes) {
    if (pc % width || !tracked(pc)) return std::nullopt;
    return width;
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
