// RAII ownership of one Unicorn engine, with typed register and memory helpers.
#pragma once

#include <unicorn/unicorn.h>

#include <cstdint>
#include <span>
#include <string>

#include "support/Result.h"

namespace hph {

class Engine {
 public:
  Engine() = default;
  explicit Engine(uc_engine* uc) : uc_(uc) {}
  Engine(Engine&& other) noexcept : uc_(std::exchange(other.uc_, nullptr)) {}
  Engine& operator=(Engine&& other) noexcept {
    if (this != &other) {
      close();
      uc_ = std::exchange(other.uc_, nullptr);
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
  // Translated blocks do not notice host writes to code (NOTES-deps): drop them.
  void forgetCode(uint64_t begin, uint64_t end) const { uc_ctl_remove_cache(uc_, begin, end); }

 private:
  void close() {
    if (uc_) uc_close(uc_);
    uc_ = nullptr;
  }
  uc_engine* uc_ = nullptr;
};

inline std::string ucErrorText(uc_err err) { return uc_strerror(err); }

}  // namespace hph
