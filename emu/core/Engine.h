// RAII ownership of one Unicorn engine, with typed register and memory helpers, and the
// exits it stops at before translating: the caller's, and words the engine's architecture
// says Unicorn cannot translate without aborting the process (its translation guard).
#pragma once

#include <unicorn/unicorn.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "support/Result.h"

namespace hph {

// Appends the addresses of the words in `bytes` (at `address`) that must not be translated.
using UntranslatableScan = void (*)(uint64_t address, std::span<const uint8_t> bytes, std::vector<uint64_t>& out);

class Engine {
 public:
  Engine() = default;
  explicit Engine(uc_engine* uc) : uc_(uc), exits_(std::make_unique<Exits>()) {}
  Engine(Engine&& other) noexcept : uc_(std::exchange(other.uc_, nullptr)), exits_(std::move(other.exits_)) {}
  Engine& operator=(Engine&& other) noexcept {
    if (this != &other) {
      close();
      uc_ = std::exchange(other.uc_, nullptr);
      exits_ = std::move(other.exits_);
    }
    return *this;
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine() { close(); }

  uc_engine* get() const { return uc_; }

  uint64_t reg(int id) const {
    uint64_t value = 0;
    uc_reg_read(uc_, id, &value);
    return value;
  }
  void setReg(int id, uint64_t value) const { uc_reg_write(uc_, id, &value); }

  bool read(uint64_t address, std::span<uint8_t> out) const {
    return uc_mem_read(uc_, address, out.data(), out.size()) == UC_ERR_OK;
  }
  bool write(uint64_t address, std::span<const uint8_t> bytes) const {
    return uc_mem_write(uc_, address, bytes.data(), bytes.size()) == UC_ERR_OK;
  }
  // Translated blocks do not notice host writes to code (NOTES-deps): drop them. Every
  // change of code goes through here, so the guard looks at the new bytes here too.
  void forgetCode(uint64_t begin, uint64_t end) const;

  // From now on every range forgetCode is given is scanned with `scan` (set once, by the
  // Arch that opens the engine).
  void guardTranslation(UntranslatableScan scan) const { exits_->scan = scan; }
  // Is `pc` a word the guard stopped the engine before?
  bool untranslatableAt(uint64_t pc) const { return exits_ && exits_->untranslatable.count(pc) != 0; }
  // Addresses to stop at before translating an instruction there (replaces the last set).
  void setExits(std::vector<uint64_t> exits) const;
  // uc_emu_start from `begin`, stopping at `until` (if any), the exits and the guarded
  // words: what the run returned, or an error when the exits could not be set (then
  // nothing ran).
  Result<uc_err> start(uint64_t begin, std::optional<uint64_t> until) const;

 private:
  struct Exits {
    UntranslatableScan scan = nullptr;
    std::set<uint64_t> untranslatable;
    std::vector<uint64_t> requested;
    std::optional<uint64_t> until;
    bool enabled = false;  // Unicorn's exits mode (then uc_emu_start ignores its `until`)
    bool stale = false;    // the engine's exits are not this set yet
  };
  void close() {
    if (uc_) uc_close(uc_);
    uc_ = nullptr;
  }
  uc_engine* uc_ = nullptr;
  std::unique_ptr<Exits> exits_;
};

inline std::string ucErrorText(uc_err err) { return uc_strerror(err); }

}  // namespace hph
