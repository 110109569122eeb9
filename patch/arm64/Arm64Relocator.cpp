// Arm64 relocation of displaced entry instructions. PC-relative instructions are
// classified from their encoding bits (Capstone 4 rejects LSE, LDAPR and PAC, which must
// still be copied as they are). Targets out of reach go through a literal pool at the end
// of the trampoline and, where a register is needed that the original does not have,
// x16 or x17 (IP0/IP1: scratch at every call boundary under AAPCS64).
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "emu/arm64/Cmodx.h"
#include "patch/CodeBuffer.h"
#include "patch/Trampoline.h"
#include "patch/TrampolinePlacement.h"

namespace hph {
namespace {

int64_t signExtend(uint64_t value, int bits) {
  const uint64_t sign = uint64_t{1} << (bits - 1);
  return static_cast<int64_t>((value ^ sign) - sign);
}

bool fits(int64_t offset, int bits) {  // a word offset in a signed `bits`-bit field
  return offset % 4 == 0 && offset >= -(int64_t{1} << (bits + 1)) && offset < (int64_t{1} << (bits + 1));
}

uint32_t field(int64_t offset, int bits, int shift) {
  return static_cast<uint32_t>(((offset >> 2) & ((int64_t{1} << bits) - 1)) << shift);
}

enum class Kind { kOther, kAdr, kAdrp, kLdrLiteral, kB, kBl, kBCond, kCompareBranch, kTestBranch };

struct Classified {
  Kind kind = Kind::kOther;
  uint64_t target = 0;
};

Classified classify(uint32_t w, uint64_t pc) {
  if ((w & 0x9F000000u) == 0x10000000u || (w & 0x9F000000u) == 0x90000000u) {
    const uint64_t imm = (((w >> 5) & 0x7FFFF) << 2) | ((w >> 29) & 3);
    if (w & 0x80000000u) return {Kind::kAdrp, (pc & ~uint64_t{0xFFF}) + (signExtend(imm, 21) << 12)};
    return {Kind::kAdr, pc + signExtend(imm, 21)};
  }
  if ((w & 0x3B000000u) == 0x18000000u) return {Kind::kLdrLiteral, pc + signExtend((w >> 5) & 0x7FFFF, 19) * 4};
  if ((w & 0x7C000000u) == 0x14000000u)
    return {(w & 0x80000000u) ? Kind::kBl : Kind::kB, pc + signExtend(w & 0x3FFFFFF, 26) * 4};
  if ((w & 0xFF000010u) == 0x54000000u) return {Kind::kBCond, pc + signExtend((w >> 5) & 0x7FFFF, 19) * 4};
  if ((w & 0x7E000000u) == 0x34000000u) return {Kind::kCompareBranch, pc + signExtend((w >> 5) & 0x7FFFF, 19) * 4};
  if ((w & 0x7E000000u) == 0x36000000u) return {Kind::kTestBranch, pc + signExtend((w >> 5) & 0x3FFF, 14) * 4};
  return {};
}

// The bytes an LDR (literal) reads: W/S 4, X/D 8, SW 4, Q 16; PRFM reads none (0).
uint64_t literalWidth(uint32_t w) {
  const uint32_t opc = w >> 30, vector = (w >> 26) & 1;
  return vector ? (4u << opc) : opc == 1 ? 8 : opc == 3 ? 0 : 4;
}

bool isBranch(Kind k) {
  return k == Kind::kB || k == Kind::kBl || k == Kind::kBCond || k == Kind::kCompareBranch || k == Kind::kTestBranch;
}

// Does this word name register 16 or 17 in any register field? Conservative on purpose:
// a false "used" only costs a refusal, a false "free" would corrupt state.
bool mayUse(uint32_t w, uint32_t reg) {
  return (w & 31) == reg || ((w >> 5) & 31) == reg || ((w >> 10) & 31) == reg || ((w >> 16) & 31) == reg;
}

constexpr uint32_t kBr = 0xD61F0000;

// Trampoline code plus a pool of 64-bit literals after it, loaded with LDR (literal).
class Emitter {
 public:
  explicit Emitter(uint64_t address) : code_(address) {}
  uint64_t here() const { return code_.here(); }
  uint32_t size() const { return static_cast<uint32_t>(code_.size()); }
  void word(uint32_t w) { code_.u32(w); }
  // LDR Xd, =value
  void loadLiteral(uint32_t reg, uint64_t value) {
    fixups_.push_back({code_.size(), literals_.size()});
    literals_.push_back(value);
    word(0x58000000u | reg);
  }
  // B target when in reach, else through `scratch` (nullopt: no register to spare).
  bool jump(uint64_t target, std::optional<uint32_t> scratch) {
    const int64_t offset = static_cast<int64_t>(target - here());
    if (fits(offset, 26)) {
      word(0x14000000u | field(offset, 26, 0));
      return true;
    }
    if (!scratch) return false;
    loadLiteral(*scratch, target);
    word(kBr | (*scratch << 5));
    return true;
  }
  // A branch to a later displaced instruction: `w` with its `bits`-bit word offset at
  // `shift` left zero, filled in by finish() once that instruction's place in the
  // trampoline is known (relocated instructions may grow). Always in reach: a trampoline
  // is far shorter than TBZ's +-32 KiB.
  void wordToLater(uint32_t w, int bits, int shift, uint32_t targetOffset) {
    links_.push_back({code_.size(), bits, shift, targetOffset});
    word(w);
  }
  // `boundaries`: (offset in the original, offset in the trampoline) of each displaced
  // instruction, for the branches wordToLater() emitted.
  std::vector<uint8_t> finish(const std::vector<std::pair<uint32_t, uint32_t>>& boundaries = {}) {
    if (!literals_.empty() && code_.size() % 8) word(0xD503201Fu);  // nop: align the pool
    const size_t pool = code_.size();
    for (uint64_t v : literals_) code_.u64(v);
    std::vector<uint8_t> bytes = code_.take();
    for (const Link& link : links_) {
      for (const auto& [original, relocated] : boundaries) {
        if (original != link.targetOffset) continue;
        uint32_t w;
        std::memcpy(&w, &bytes[link.at], 4);
        w |= field(static_cast<int64_t>(relocated) - static_cast<int64_t>(link.at), link.bits, link.shift);
        std::memcpy(&bytes[link.at], &w, 4);
      }
    }
    for (const auto& [at, index] : fixups_) {
      const int64_t offset = static_cast<int64_t>(pool + index * 8) - static_cast<int64_t>(at);
      uint32_t w;
      std::memcpy(&w, &bytes[at], 4);
      w |= field(offset, 19, 5);
      std::memcpy(&bytes[at], &w, 4);
    }
    return bytes;
  }

 private:
  CodeBuffer code_;
  std::vector<uint64_t> literals_;
  std::vector<std::pair<size_t, size_t>> fixups_;  // (instruction offset, literal index)
  struct Link {
    size_t at;
    int bits, shift;
    uint32_t targetOffset;  // in the original
  };
  std::vector<Link> links_;
};

uint32_t wordAt(std::span<const uint8_t> code, size_t offset) {
  uint32_t w;
  std::memcpy(&w, code.data() + offset, 4);
  return w;
}

class Arm64Relocator final : public Relocator {
 public:
  const Arch& arch() const override { return arm64Arch(); }

  std::vector<uint8_t> redirect(uint64_t from, uint64_t to) const override {
    Emitter out(from);
    if (!out.jump(to, std::nullopt)) {
      out.word(0x58000050u);  // ldr x16, #8
      out.word(kBr | (16 << 5));
      std::vector<uint8_t> bytes = out.finish();
      for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(to >> (8 * i)));
      return bytes;
    }
    return out.finish();
  }

  std::vector<AddressRange> references(const TrampolineRequest& request) const override {
    std::vector<AddressRange> out;
    const std::span<const uint8_t> code = request.function;
    const uint32_t span = (request.patchBytes + 3) & ~3u;
    for (size_t at = 0; at < span && at + 4 <= code.size(); at += 4) {
      const uint32_t w = wordAt(code, at);
      const Classified c = classify(w, request.functionAddress + at);
      switch (c.kind) {
      case Kind::kOther: break;
      case Kind::kAdr:
        out.push_back({c.target, c.target + 1});
        break;  // the address itself
      // ADRP names a 4 KiB page; the code after it reaches anywhere in that page.
      case Kind::kAdrp: out.push_back({c.target, c.target + 0x1000}); break;
      // PRFM loads nothing: its address only.
      case Kind::kLdrLiteral: out.push_back({c.target, c.target + std::max<uint64_t>(1, literalWidth(w))}); break;
      default: out.push_back({c.target, c.target + 4}); break;  // a branch: the instruction there
      }
    }
    return out;
  }

  Relocation relocate(const TrampolineRequest& request) const override {
    const std::span<const uint8_t> code = request.function;
    const uint64_t base = request.functionAddress;
    if (base % 4) {
      Relocation refused = refuse("entry is not 4-byte aligned");
      refused.malformed = true;
      return refused;
    }
    const uint32_t span = (request.patchBytes + 3) & ~3u;
    if (span > code.size())
      return refuse(fmt::format("function is {} bytes, shorter than the {}-byte patch", code.size(), span));
    // Control flow that could arrive inside the span once it is overwritten is refused,
    // except a branch (not BL) from a displaced instruction forward to a later one: it
    // stays inside the trampoline. Every target is an instruction boundary (words).
    auto forwardInside = [&](size_t at, const Classified& c) {
      return at < span && c.kind != Kind::kBl && c.target > base + at && c.target < base + span;
    };
    for (size_t at = 0; at + 4 <= code.size(); at += 4) {
      const Classified c = classify(wordAt(code, at), base + at);
      if (isBranch(c.kind) && c.target >= base && c.target < base + span && !forwardInside(at, c))
        return refuse(fmt::format("branch at +0x{:x} targets +0x{:x}, inside the {}-byte displaced span", at,
                                  c.target - base, span));
    }
    // A literal load of bytes inside the span reads what the patch put there once the
    // entry is overwritten, wherever the load is relocated to: the original read its own
    // instructions (or data between them), which no longer exist anywhere.
    for (size_t at = 0; at < span; at += 4) {
      const uint32_t w = wordAt(code, at);
      const Classified c = classify(w, base + at);
      const AddressRange read{c.target, c.target + literalWidth(w)};
      if (c.kind == Kind::kLdrLiteral && read.end > read.begin && read.overlaps(base, base + span))
        return refuse(fmt::format("LDR (literal) at +0x{:x} reads 0x{:x}..0x{:x}, overlapping the displaced span "
                                  "({} bytes), which the patch overwrites",
                                  at, read.begin, read.end, span));
    }
    std::optional<uint32_t> scratch;
    for (uint32_t candidate : {16u, 17u}) {
      bool used = false;
      for (size_t at = 0; at < span; at += 4) used |= mayUse(wordAt(code, at), candidate);
      if (!used) {
        scratch = candidate;
        break;
      }
    }
    bool usedScratch = false;
    auto needScratch = [&]() -> std::optional<uint32_t> {
      if (scratch) usedScratch = true;
      return scratch;
    };
    const std::string noScratch = "no free scratch register: the displaced instructions use x16 and x17";

    Emitter out(request.trampolineAddress);
    std::vector<std::pair<uint32_t, uint32_t>> boundaries;
    for (size_t at = 0; at < span; at += 4) {
      const uint32_t w = wordAt(code, at);
      const uint64_t pc = base + at;
      const Classified c = classify(w, pc);
      const bool last = at + 4 == span;
      const uint32_t rt = w & 31;
      boundaries.emplace_back(static_cast<uint32_t>(at), out.size());
      switch (c.kind) {
      case Kind::kOther: out.word(w); break;
      case Kind::kAdr:
      case Kind::kAdrp:
        out.loadLiteral(rt, c.target);  // the address ADR/ADRP would have computed
        break;
      case Kind::kLdrLiteral: {
        const int64_t offset = static_cast<int64_t>(c.target - out.here());
        if (fits(offset, 19)) {
          out.word((w & ~(0x7FFFFu << 5)) | field(offset, 19, 5));
          break;
        }
        const uint32_t opc = w >> 30, vector = (w >> 26) & 1;
        // Through the destination itself where it is a general register; else scratch.
        std::optional<uint32_t> address = rt;
        if (vector || opc == 3) address = needScratch();
        if (!address) return refuse(noScratch);
        out.loadLiteral(*address, c.target);
        static constexpr uint32_t kGeneral[] = {0xB9400000u, 0xF9400000u, 0xB9800000u, 0xF9800000u};
        static constexpr uint32_t kVector[] = {0xBD400000u, 0xFD400000u, 0x3DC00000u};
        if (vector && opc == 3) return refuse(fmt::format("reserved LDR literal at +0x{:x}", at));
        out.word((vector ? kVector[opc] : kGeneral[opc]) | (*address << 5) | rt);
        break;
      }
      case Kind::kBl:
        // The callee must return into the original, as the original's BL would have.
        if (!last)
          return refuse(fmt::format("BL at +0x{:x} is not the last displaced instruction: its return "
                                    "address would lie in the overwritten span",
                                    at));
        out.loadLiteral(30, pc + 4);
        if (!out.jump(c.target, needScratch())) return refuse(noScratch);
        break;
      case Kind::kB:
        if (forwardInside(at, c)) {
          out.wordToLater(0x14000000u, 26, 0, static_cast<uint32_t>(c.target - base));
          break;
        }
        if (!out.jump(c.target, needScratch())) return refuse(noScratch);
        break;
      case Kind::kBCond:
      case Kind::kCompareBranch:
      case Kind::kTestBranch: {
        const uint32_t condition = w & 0xF;
        const bool always = c.kind == Kind::kBCond && condition >= 14;  // AL and NV both always branch
        const int bits = c.kind == Kind::kTestBranch ? 14 : 19;
        const uint32_t mask = ((1u << bits) - 1) << 5;
        if (forwardInside(at, c)) {
          if (always)
            out.wordToLater(0x14000000u, 26, 0, static_cast<uint32_t>(c.target - base));
          else
            out.wordToLater(w & ~mask, bits, 5, static_cast<uint32_t>(c.target - base));
          break;
        }
        if (always) {
          if (!out.jump(c.target, needScratch())) return refuse(noScratch);
          break;
        }
        const int64_t offset = static_cast<int64_t>(c.target - out.here());
        if (fits(offset, bits)) {
          out.word((w & ~mask) | field(offset, bits, 5));
          break;
        }
        // Out of reach: the inverted branch skips an unconditional jump to the target.
        const uint32_t inverted = c.kind == Kind::kBCond ? (w ^ 1) : (w ^ (1u << 24));
        const bool direct = fits(static_cast<int64_t>(c.target - (out.here() + 4)), 26);
        if (!direct && !scratch) return refuse(noScratch);
        const int64_t skip = direct ? 8 : 12;  // over B, or over LDR + BR
        out.word((inverted & ~mask) | field(skip, bits, 5));
        if (!out.jump(c.target, needScratch())) return refuse(noScratch);
        break;
      }
      }
    }
    const uint64_t resume = base + span;
    if (!fits(static_cast<int64_t>(resume - out.here()), 26) && request.btiGuarded)
      return refuse("the way back into the function is out of B's reach and its page enforces BTI: "
                    "BR would need a landing pad there");
    if (!out.jump(resume, needScratch())) return refuse(noScratch);
    Trampoline t;
    t.address = request.trampolineAddress;
    t.bytes = out.finish(boundaries);
    // Placed over what the displaced code calls, loads or is, it would not be equivalent.
    if (auto conflict = placementConflict(*this, request, t.address, t.bytes.size()); !conflict.empty())
      return refuse(conflict);
    t.displacedBytes = span;
    t.resumeAddress = resume;
    t.boundaries = std::move(boundaries);
    if (usedScratch) t.scratch.push_back(UC_ARM64_REG_X0 + static_cast<int>(*scratch));
    return {t, ""};
  }

 private:
  static Relocation refuse(std::string why) { return {std::nullopt, std::move(why)}; }
};

}  // namespace

const Relocator& arm64Relocator() {
  static const Arm64Relocator instance;
  return instance;
}

const Relocator& relocatorFor(const Arch& arch) {
  return arch.kind() == ArchKind::kX64 ? x64Relocator() : arm64Relocator();
}

}  // namespace hph
