#include "emu/core/Engine.h"

#include <algorithm>

namespace hph {
namespace {

constexpr uint64_t kScanChunk = 0x1000;

}  // namespace

void Engine::forgetCode(uint64_t begin, uint64_t end) const {
  uc_ctl_remove_cache(uc_, begin, end);
  if (!exits_ || !exits_->scan || begin >= end) return;
  // Exits are read when a block is translated: the blocks over this range were just
  // dropped, so the words found here take effect before any of them runs again.
  auto& words = exits_->untranslatable;
  const size_t before = words.size();
  const bool hadAny = words.lower_bound(begin) != words.lower_bound(end);
  words.erase(words.lower_bound(begin), words.lower_bound(end));
  std::vector<uint64_t> found;
  std::vector<uint8_t> chunk;
  // Chunk by chunk: a range may cover unmapped pages, which uc_mem_read refuses whole.
  for (uint64_t at = begin; at < end;) {
    const uint64_t next = std::min(end, (at & ~(kScanChunk - 1)) + kScanChunk);
    chunk.resize(next - at);
    if (uc_mem_read(uc_, at, chunk.data(), chunk.size()) == UC_ERR_OK) exits_->scan(at, chunk, found);
    at = next;
  }
  words.insert(found.begin(), found.end());
  if (hadAny || !found.empty() || words.size() != before) exits_->stale = true;
}

void Engine::setExits(std::vector<uint64_t> exits) const {
  if (!exits_) return;
  exits_->requested = std::move(exits);
  exits_->stale = true;
}

uc_err Engine::start(uint64_t begin, std::optional<uint64_t> until) const {
  if (!exits_) return UC_ERR_HANDLE;
  Exits& e = *exits_;
  if (e.until != until) {
    e.until = until;
    e.stale = e.stale || e.enabled;
  }
  if (e.stale) {
    std::vector<uint64_t> all(e.untranslatable.begin(), e.untranslatable.end());
    all.insert(all.end(), e.requested.begin(), e.requested.end());
    if (!all.empty() || e.enabled) {
      // In exits mode Unicorn ignores uc_emu_start's `until`: it is one of the exits.
      if (e.until) all.push_back(*e.until);
      if (!e.enabled) {
        if (uc_err err = uc_ctl_exits_enable(uc_); err != UC_ERR_OK) return err;
        e.enabled = true;
      }
      if (uc_err err = uc_ctl_set_exits(uc_, all.data(), all.size()); err != UC_ERR_OK) return err;
    }
    e.stale = false;
  }
  return uc_emu_start(uc_, begin, until.value_or(0), 0, 0);
}

}  // namespace hph
