#include "emu/core/Engine.h"

#include <algorithm>

namespace hph {
namespace {

constexpr uint64_t kScanChunk = 0x1000;
// Bytes around a changed range whose instructions may change with it (the longest x64
// instruction, rounded up).
constexpr uint64_t kScanContext = 16;

}  // namespace

void Engine::forgetCode(uint64_t begin, uint64_t end) const {
  uc_ctl_remove_cache(uc_, begin, end);
  if (!exits_ || !exits_->scan || begin >= end) return;
  // Whether an instruction starting at an address is one the engine cannot translate
  // depends on the bytes after it (x64: up to 15), so the words around the range are
  // looked at again too. Exits are read when a block is translated: the blocks over this
  // range were just dropped, and a block ending before it already stops at its end.
  const uint64_t lo = begin > kScanContext ? begin - kScanContext : 0;
  // Clamped: a range may end at the top of the address space (the trampoline check maps
  // pages wherever random registers point; the fuzzer hung here when this wrapped).
  const uint64_t hi = end > UINT64_MAX - kScanContext ? UINT64_MAX : end + kScanContext;
  auto& words = exits_->untranslatable;
  const size_t before = words.size();
  const std::vector<uint64_t> erased(words.lower_bound(lo), words.lower_bound(end));
  words.erase(words.lower_bound(lo), words.lower_bound(end));
  std::vector<uint64_t> found;
  std::vector<uint8_t> run;
  uint64_t runStart = lo;
  const auto scanRun = [&] {
    if (!run.empty()) exits_->scan(runStart, run, found);
    run.clear();
  };
  // Page by page: a range may cover unmapped pages, which uc_mem_read refuses whole.
  std::vector<uint8_t> chunk;
  for (uint64_t at = lo; at < hi;) {
    const uint64_t pageEnd = (at & ~(kScanChunk - 1)) + kScanChunk;  // 0 past the last page
    const uint64_t next = pageEnd == 0 ? hi : std::min(hi, pageEnd);
    chunk.resize(next - at);
    if (uc_mem_read(uc_, at, chunk.data(), chunk.size()) == UC_ERR_OK) {
      if (run.empty()) runStart = at;
      run.insert(run.end(), chunk.begin(), chunk.end());
    } else {
      scanRun();
    }
    at = next;
  }
  scanRun();
  for (uint64_t a : found)
    if (a >= lo && a < end) words.insert(a);
  // A block translated before an exit ends at it (on x64 without covering it): when the
  // exit goes (the code was rewritten into something valid), such a block must not stop
  // there any more. Drop the blocks that may end at it (QEMU's span at most two pages);
  // Unicorn 2.0.1 was not seen to keep one, this does not rely on it.
  for (uint64_t a : erased) {
    const uint64_t page = a & ~(kScanChunk - 1);
    if (!words.count(a)) uc_ctl_remove_cache(uc_, page >= kScanChunk ? page - kScanChunk : 0, a + 1);
  }
  if (!erased.empty() || words.size() != before) exits_->stale = true;
}

void Engine::setExits(std::vector<uint64_t> exits) const {
  if (!exits_) return;
  exits_->requested = std::move(exits);
  exits_->stale = true;
}

Result<uc_err> Engine::start(uint64_t begin, std::optional<uint64_t> until) const {
  if (!exits_) return internalError("no engine to start");
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
        if (uc_err err = uc_ctl_exits_enable(uc_); err != UC_ERR_OK)
          return internalError("cannot enable Unicorn's exits: " + ucErrorText(err));
        e.enabled = true;
      }
      if (uc_err err = uc_ctl_set_exits(uc_, all.data(), all.size()); err != UC_ERR_OK)
        return internalError("cannot set Unicorn's exits: " + ucErrorText(err));
    }
    e.stale = false;
  }
  return uc_emu_start(uc_, begin, until.value_or(0), 0, 0);
}

}  // namespace hph
