#include "patch/TrampolineCheck.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#include "patch/TrampolinePlacement.h"
#include "support/Rng.h"

namespace hph {
namespace {

constexpr uint64_t kPage = 0x1000;
// The checker's stack goes here unless the displaced code references it (then the first
// 64 KiB-aligned place above that it does not): the stack is written on both sides, and
// its placement must not decide what a reference reads.
constexpr uint64_t kStackBase = 0x00007F0000000000;
constexpr uint64_t kStackBytes = 0x10000;
constexpr uint64_t kStackLimit = 0x00007FFF00000000;
constexpr uint32_t kMaxInstructions = 4096;  // loops inside a span end here, on both sides
constexpr uint64_t kWidestAccess = 64;       // bytes one memory hook call may cover (ld4 of Q registers)

// One side of the comparison: an engine whose memory is materialised on first touch from
// a seed, so both sides read the same bytes from any address.
class Side {
 public:
  Side(const Arch& arch, uint64_t regionBegin, uint64_t regionEnd)
      : arch_(arch), begin_(regionBegin), end_(regionEnd) {}

  // A new state: every page refilled from this seed. Pages stay mapped (mapping costs
  // system calls); a page mapped earlier holds what materialising it now would put there.
  void reset(uint64_t memorySeed) {
    memorySeed_ = memorySeed;
    for (const auto& [page, _] : pages_) fill(page);
  }

  Result<void> open() {
    auto engine = arch_.openEngine();
    if (!engine) return engine.error();
    engine_ = std::move(engine).value();
    uc_hook hook;
    if (uc_hook_add(engine_.get(), &hook, UC_HOOK_MEM_UNMAPPED, reinterpret_cast<void*>(&onUnmapped), this, 1, 0) ||
        uc_hook_add(engine_.get(), &hook, UC_HOOK_CODE, reinterpret_cast<void*>(&onCode), this, 1, 0) ||
        uc_hook_add(engine_.get(), &hook, UC_HOOK_INTR, reinterpret_cast<void*>(&onInterrupt), this, 1, 0))
      return internalError("cannot install the checker's hooks");
    return {};
  }

  // Data accesses (reads and writes, not fetches) overlapping any of `ranges` are noted:
  // touched() says whether the last run made one. A write that leaves a byte as it was
  // (the same value, or changed and changed back) is not seen: it changes nothing either
  // side could read afterwards.
  Result<void> watch(std::vector<AddressRange> ranges) {
    watched_ = std::move(ranges);
    if (watched_.empty()) return {};
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const AddressRange& r : watched_) {
      lo = std::min(lo, r.begin);
      hi = std::max(hi, r.end);
    }
    // Reads are hooked; writes are found by comparing the bytes after the run. A write
    // hook would change what is compared: with one installed, Unicorn 2.0.1's x64
    // translator saves the PC into the temporary that holds the last bit shifted out, so
    // SHL/SHR/SAR by CL and SHLD/SHRD with a memory destination take CF and OF from the
    // PC (the long fuzz run's rflags differences: the two sides run at other addresses).
    // Unicorn filters on an access's first byte: begin early enough for the widest one.
    uc_hook hook;
    if (uc_hook_add(engine_.get(), &hook, UC_HOOK_MEM_READ, reinterpret_cast<void*>(&onData), this,
                    lo < kWidestAccess ? 0 : lo - kWidestAccess, hi - 1))
      return internalError("cannot install the checker's memory hook");
    return {};
  }
  // Read or wrote a watched byte in the last run.
  bool touched() const {
    if (touched_) return true;
    std::vector<uint8_t> now;
    for (size_t i = 0; i < watched_.size(); ++i) {
      now.resize(watched_[i].end - watched_[i].begin);
      if (!engine_.read(watched_[i].begin, now) || now != watchedBytes_[i]) return true;
    }
    return false;
  }

  // Addresses where translation stops: the code hook stops a run when the PC leaves this
  // side's code, but only once the block there has been translated, and that is whatever
  // the page holds (random bytes around a function). Unicorn 2.0.1 aborts the process
  // translating some invalid encodings (x64 `ff /3` and `ff /5` with a register operand),
  // so every place the code is known to continue at (outside this side's code) is an exit,
  // checked before an instruction there is translated. Indirect branches stay with the hook.
  Result<void> stopAt(std::vector<uint64_t> exits) {
    std::erase_if(exits, [&](uint64_t a) { return a >= begin_ && a < end_; });
    std::sort(exits.begin(), exits.end());
    exits.erase(std::unique(exits.begin(), exits.end()), exits.end());
    if (exits.empty()) return {};
    engine_.setExits(std::move(exits));
    return {};
  }

  bool materialise(uint64_t page) {
    if (pages_.count(page)) return true;
    if (uc_mem_map(engine_.get(), page, kPage, UC_PROT_ALL) != UC_ERR_OK) return false;
    pages_[page] = true;
    fill(page);
    return true;
  }
  void fill(uint64_t page) {
    Rng rng(memorySeed_ ^ (page * 0x9E3779B97F4A7C15ull));
    uint64_t words[kPage / 8];
    for (uint64_t& w : words) w = rng.next();
    uc_mem_write(engine_.get(), page, words, kPage);
    engine_.forgetCode(page, page + kPage);  // host writes do not invalidate translations
  }
  void mapRange(uint64_t address, uint64_t size) {
    for (uint64_t p = address & ~(kPage - 1); p < address + size; p += kPage) materialise(p);
  }
  void place(uint64_t address, std::span<const uint8_t> bytes) {
    mapRange(address, bytes.size());
    uc_mem_write(engine_.get(), address, bytes.data(), bytes.size());
    engine_.forgetCode(address, address + bytes.size());
  }

  // Runs from `start` until the PC leaves [begin, end) of this side's code.
  void run(uint64_t start) {
    fault_.clear();
    startError_.reset();
    steps_ = 0;
    touched_ = false;
    watchedBytes_.resize(watched_.size());
    for (size_t i = 0; i < watched_.size(); ++i) {
      watchedBytes_[i].resize(watched_[i].end - watched_[i].begin);
      if (!engine_.read(watched_[i].begin, watchedBytes_[i])) watchedBytes_[i].clear();  // never equal: touched
    }
    const Result<uc_err> started = engine_.start(start, std::nullopt);
    if (!started) {
      // Not a fault both sides share (that would count the state as equivalent): the
      // check itself failed.
      startError_ = started.error();
      return;
    }
    const uc_err err = *started;
    if (err != UC_ERR_OK && fault_.empty()) fault_ = uc_strerror(err);  // e.g. an invalid instruction
    if (!fault_.empty()) return;
    stopPc_ = engine_.reg(arch_.pcRegister());
    // Stopped before code the engine cannot translate: undefined, as on hardware. Unless
    // the run ended at a halt right before it (hlt, wfi: the emulator stops past them, and
    // its exits look the same): then that code did not run (fuzz/RelocatorFuzzer found
    // `hlt; ff de` called a mismatch).
    if (engine_.untranslatableAt(stopPc_) && !haltedBefore(stopPc_)) fault_ = uc_strerror(UC_ERR_INSN_INVALID);
  }

  // The last instruction that ran ends at `pc` and halts the emulator.
  bool haltedBefore(uint64_t pc) const {
    if (steps_ == 0 || lastPc_ + lastSize_ != pc || lastSize_ > 15) return false;
    uint8_t bytes[16] = {};
    if (!engine_.read(lastPc_, {bytes, lastSize_})) return false;
    const std::string text = arch_.decode({bytes, lastSize_}, lastPc_).text;
    return text == "hlt" || text.starts_with("wfi") || text.starts_with("wfe");
  }

  const Engine& engine() const { return engine_; }
  const std::optional<Error>& startError() const { return startError_; }
  const std::string& fault() const { return fault_; }
  uint64_t stopPc() const { return stopPc_; }
  std::vector<uint64_t> pages() const {
    std::vector<uint64_t> out;
    for (const auto& [p, _] : pages_) out.push_back(p);
    return out;
  }

 private:
  static bool onUnmapped(uc_engine*, uc_mem_type type, uint64_t address, int, int64_t, void* user) {
    auto* self = static_cast<Side*>(user);
    if (type != UC_MEM_FETCH_UNMAPPED && self->materialise(address & ~(kPage - 1))) return true;
    self->fault_ = fmt::format("{} at 0x{:x}", type == UC_MEM_FETCH_UNMAPPED ? "fetch" : "access", address);
    return false;
  }
  static void onCode(uc_engine* uc, uint64_t address, uint32_t size, void* user) {
    auto* self = static_cast<Side*>(user);
    self->lastPc_ = address;
    self->lastSize_ = size;
    if (address < self->begin_ || address >= self->end_ || ++self->steps_ > kMaxInstructions) uc_emu_stop(uc);
  }
  static void onData(uc_engine*, uc_mem_type, uint64_t address, int size, int64_t, void* user) {
    auto* self = static_cast<Side*>(user);
    for (const AddressRange& r : self->watched_)
      if (r.overlaps(address, address + static_cast<uint64_t>(size))) self->touched_ = true;
  }
  static void onInterrupt(uc_engine* uc, uint32_t number, void* user) {
    static_cast<Side*>(user)->fault_ = fmt::format("exception {}", number);
    uc_emu_stop(uc);
  }

  const Arch& arch_;
  uint64_t memorySeed_ = 0;
  uint64_t begin_, end_;
  Engine engine_;
  std::map<uint64_t, bool> pages_;
  std::string fault_;
  std::optional<Error> startError_;
  uint64_t stopPc_ = 0;
  uint32_t steps_ = 0;
  uint64_t lastPc_ = 0;  // the last instruction the code hook saw, and its size
  uint32_t lastSize_ = 0;
  std::vector<AddressRange> watched_;
  std::vector<std::vector<uint8_t>> watchedBytes_;  // what they held when the run began
  bool touched_ = false;
};

// Random register values: mostly arbitrary, some pointing at mapped-looking places so
// memory operands hit memory instead of faulting on every state.
uint64_t randomValue(Rng& rng, uint64_t functionAddress, uint64_t stackBase) {
  switch (rng.below(4)) {
  case 0: return stackBase + rng.below(kStackBytes);
  case 1: return functionAddress - 0x8000 + rng.below(0x10000);
  case 2: return rng.below(256);
  default: return rng.next();
  }
}

}  // namespace

Result<TrampolineCheck> checkTrampoline(const Arch& arch, const TrampolineRequest& request,
                                        const Trampoline& trampoline, const std::vector<uint8_t>& patch,
                                        uint32_t states, uint64_t seed) {
  TrampolineCheck result;
  const uint64_t entry = request.functionAddress;
  std::vector<AddressRange> avoid = addressesToAvoid(relocatorFor(arch), request);
  avoid.push_back({trampoline.address, trampoline.address + trampoline.bytes.size()});
  const std::optional<uint64_t> stack = firstFreePlace(kStackBase, kStackBytes, kStackBytes, avoid, kStackLimit);
  if (!stack) return internalError("no room for the checker's stack clear of the code and what it references");
  const uint64_t stackBase = *stack;
  std::vector<uint8_t> patched = request.function;
  std::copy(patch.begin(), patch.end(), patched.begin());
  // Two engines for all states (uc_open costs ~0.5 ms): memory is unmapped between states.
  Side original(arch, entry, entry + trampoline.displacedBytes);
  Side relocated(arch, trampoline.address, trampoline.address + trampoline.bytes.size());
  // Where the displaced code goes on: its branch and call targets (data references too:
  // reaching one as code ends a run as well) and the resume address.
  const std::vector<AddressRange> references = relocatorFor(arch).references(request);
  std::vector<uint64_t> exits = {trampoline.resumeAddress};
  for (const AddressRange& r : references) exits.push_back(r.begin);
  for (Side* side : {&original, &relocated}) {
    if (auto opened = side->open(); !opened) return opened.error();
    if (auto stopped = side->stopAt(exits); !stopped) return stopped.error();
  }
  // The bytes that differ by construction: the patched entry and the trampoline. A state
  // whose registers point the original's loads or stores at them (`ldurb w1, [x15, #-63]`
  // with x15 = entry + 63) compares the patch with the instructions it replaced, not the
  // relocation: the same copied instruction reads them in either run. Such a state is
  // skipped, on both sides, unless the displaced code names those bytes itself (a
  // PC-relative access of the span, which no relocation can make equivalent: the
  // relocators refuse it, and a relocator that did not must show up as a difference).
  std::vector<AddressRange> byConstruction;
  for (const AddressRange range : {AddressRange{entry, entry + patch.size()},
                                   AddressRange{trampoline.address, trampoline.address + trampoline.bytes.size()}}) {
    bool named = false;
    for (const AddressRange& r : references) named |= r.overlaps(range.begin, range.end);
    if (!named && range.end > range.begin) byConstruction.push_back(range);
  }
  if (auto watched = original.watch(byConstruction); !watched) return watched.error();
  // Where a run may start: the entry, and every later instruction boundary paired with
  // its copy (a thread stopped inside the span is moved there, and a call that returns
  // into the trampoline continues there). Each state starts at the entry and at one of
  // the later boundaries in turn.
  const auto& boundaries = trampoline.boundaries;
  // A call kept a call pushes the trampoline's return address where the original pushes
  // its own (x64 stop-the-world): the relocator declares those pairs, and only the slot at
  // the final SP, where the call just put it, is compared as such a pair.
  const auto returnAddressPair = [&](uint64_t original, uint64_t relocated) {
    return std::any_of(trampoline.callReturns.begin(), trampoline.callReturns.end(), [&](const auto& p) {
      return original == entry + p.first && relocated == trampoline.address + p.second;
    });
  };
  for (uint32_t s = 0; s < states; ++s) {
    Rng rng = Rng::forSchedule(seed, s);
    const uint64_t memorySeed = rng.next();
    const uint64_t sp = stackBase + kStackBytes / 2 + rng.below(64) * 16;
    std::vector<std::array<uint8_t, 16>> registers;
    for (const StateRegister& r : arch.stateRegisters()) {
      std::array<uint8_t, 16> value{};
      for (uint32_t i = 0; i < r.bytes; i += 8) {
        const uint64_t v =
            ((i == 0 ? randomValue(rng, entry, stackBase) : rng.next()) & r.randomBits) | (i == 0 ? r.fixedOnes : 0);
        std::memcpy(value.data() + i, &v, 8);
      }
      registers.push_back(value);
    }
    std::vector<std::pair<uint32_t, uint32_t>> starts = {{0, 0}};
    if (boundaries.size() > 1) starts.push_back(boundaries[1 + s % (boundaries.size() - 1)]);
    bool skippedAny = false;
    for (const auto& [originalStart, trampolineStart] : starts) {
      original.reset(memorySeed);
      relocated.reset(memorySeed);
      original.place(entry, request.function);
      relocated.place(entry, patched);
      relocated.place(trampoline.address, trampoline.bytes);
      // The same pages mapped on both sides: an instruction fetch does not map a page, so a
      // branch onto the trampoline's page (outside the trampoline) would fault only in the
      // original.
      original.mapRange(trampoline.address, trampoline.bytes.size());
      for (uint64_t p = stackBase; p < stackBase + kStackBytes; p += kPage) {
        original.materialise(p);
        relocated.materialise(p);
      }
      const std::span<const StateRegister> stateRegisters = arch.stateRegisters();
      for (size_t k = 0; k < stateRegisters.size(); ++k)
        for (Side* side : {&original, &relocated})
          uc_reg_write(side->engine().get(), stateRegisters[k].id, registers[k].data());
      for (Side* side : {&original, &relocated}) side->engine().setReg(arch.spRegister(), sp);

      original.run(entry + originalStart);
      relocated.run(trampoline.address + trampolineStart);
      for (const Side* side : {&original, &relocated})
        if (side->startError()) return *side->startError();
      if (original.touched()) {  // read or wrote the bytes that differ by construction
        skippedAny = true;
        continue;
      }
      auto differ = [&](std::string what) {
        result.equivalent = false;
        result.states = s + 1;
        result.difference = originalStart == 0 ? fmt::format("state {}: {}", s, what)
                                               : fmt::format("state {} from +0x{:x}: {}", s, originalStart, what);
        return result;
      };
      if (original.fault() != relocated.fault())
        return differ(fmt::format("original {}, trampoline {}", original.fault().empty() ? "ran" : original.fault(),
                                  relocated.fault().empty() ? "ran" : relocated.fault()));
      if (!original.fault().empty()) continue;  // both faulted the same way
      // Where they went: the same address, or (stopped inside their own code, at an hlt or
      // an exception the emulator ends the run at) the same place, the original's in the
      // span and its copy's in the trampoline.
      const auto sameInstruction = [&] {
        const uint64_t o = original.stopPc(), r = relocated.stopPc();
        // Stopped right after the last displaced instruction (hlt stops past itself): the
        // trampoline right after its copy, where its jump back begins.
        if (o == entry + trampoline.displacedBytes && !boundaries.empty()) {
          const auto [originalLast, trampolineLast] = boundaries.back();
          return r == trampoline.address + trampolineLast + (trampoline.displacedBytes - originalLast);
        }
        if (o < entry || o >= entry + trampoline.displacedBytes || r < trampoline.address ||
            r >= trampoline.address + trampoline.bytes.size())
          return false;
        return std::find(boundaries.begin(), boundaries.end(),
                         std::pair<uint32_t, uint32_t>(static_cast<uint32_t>(o - entry),
                                                       static_cast<uint32_t>(r - trampoline.address))) !=
               boundaries.end();
      };
      if (original.stopPc() != relocated.stopPc() && !sameInstruction())
        return differ(fmt::format("continued at 0x{:x} vs 0x{:x}", original.stopPc(), relocated.stopPc()));
      const int spId = arch.spRegister();
      if (original.engine().reg(spId) != relocated.engine().reg(spId))
        return differ(fmt::format("sp 0x{:x} vs 0x{:x}", original.engine().reg(spId), relocated.engine().reg(spId)));
      for (const StateRegister& r : stateRegisters) {
        if (std::find(trampoline.scratch.begin(), trampoline.scratch.end(), r.id) != trampoline.scratch.end()) continue;
        uint8_t a[16] = {}, b[16] = {};
        uc_reg_read(original.engine().get(), r.id, a);
        uc_reg_read(relocated.engine().get(), r.id, b);
        if (std::memcmp(a, b, r.bytes) != 0) {
          uint64_t va, vb;
          std::memcpy(&va, a, 8);
          std::memcpy(&vb, b, 8);
          return differ(fmt::format("{} 0x{:x} vs 0x{:x}", r.name, va, vb));
        }
      }
      // Memory: every page either side touched, outside the two code ranges that differ
      // by construction (the patched entry and the trampoline) and a declared return
      // address at SP.
      const uint64_t finalSp = original.engine().reg(spId);
      uint64_t originalTop = 0, relocatedTop = 0;
      const bool returnSlot = !trampoline.callReturns.empty() &&
                              uc_mem_read(original.engine().get(), finalSp, &originalTop, 8) == UC_ERR_OK &&
                              uc_mem_read(relocated.engine().get(), finalSp, &relocatedTop, 8) == UC_ERR_OK &&
                              returnAddressPair(originalTop, relocatedTop);
      std::vector<uint64_t> pages = original.pages();
      for (uint64_t p : relocated.pages()) pages.push_back(p);
      for (uint64_t page : pages) {
        original.materialise(page);
        relocated.materialise(page);
        uint8_t a[kPage], b[kPage];
        uc_mem_read(original.engine().get(), page, a, kPage);
        uc_mem_read(relocated.engine().get(), page, b, kPage);
        if (std::memcmp(a, b, kPage) == 0) continue;
        for (uint64_t i = 0; i < kPage; ++i) {
          const uint64_t address = page + i;
          const bool code = (address >= entry && address < entry + patch.size()) ||
                            (address >= trampoline.address && address < trampoline.address + trampoline.bytes.size());
          const bool declared = returnSlot && address >= finalSp && address < finalSp + 8;
          if (!code && !declared && a[i] != b[i])
            return differ(fmt::format("memory at 0x{:x}: 0x{:02x} vs 0x{:02x}", address, a[i], b[i]));
        }
      }
    }
    result.states = s + 1;
    if (skippedAny) ++result.skipped;
  }
  return result;
}

}  // namespace hph
