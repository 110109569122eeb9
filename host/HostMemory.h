// The runner's copy of the guest's images: every region mapped at the address the
// emulator uses, from one memfd, so the same pages can be mapped a second time writable
// (the alias) — the patcher stores through the alias while the threads execute the
// read-execute view, and an external patcher (planned) can map the very same pages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host/HostJob.h"

namespace hph {

// Why the regions could not be mapped, and where the job's movable span would fit instead
// (when a region of it was in the way and the runner found a free place below its limit).
struct HostMapRefusal {
  std::string error;
  std::optional<uint64_t> movableSpanFits;
};

class HostMemory {
 public:
  // nullopt with `refusal` set when a region cannot be mapped where it must be.
  static std::optional<HostMemory> map(const HostJob& job, HostMapRefusal& refusal);
  HostMemory(HostMemory&& other) noexcept;
  HostMemory& operator=(HostMemory&&) = delete;
  ~HostMemory();

  // The alias byte that backs guest `address` (nullptr outside every region).
  uint8_t* writable(uint64_t address, uint64_t size) const;
  // Reads what the threads execute (the guest view).
  std::vector<uint8_t> read(uint64_t address, uint64_t size) const;
  int fd() const { return fd_; }
  // The control page (HostJob.h): not mapped into the guest's addresses.
  HostControl& control() const { return *reinterpret_cast<HostControl*>(alias_ + total_ - kControlPageBytes); }

 private:
  HostMemory() = default;
  using Mapping = HostMapping;  // offset: in the memfd and the alias
  std::vector<Mapping> mappings_;
  int fd_ = -1;
  uint8_t* alias_ = nullptr;
  uint64_t total_ = 0;
  bool private_ = false;  // job.privateImages: the guest view is not the memfd's
};

}  // namespace hph
