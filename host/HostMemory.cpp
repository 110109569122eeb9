#include "host/HostMemory.h"
#include "host/FreePlace.h"
#include "support/HexText.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hph {
namespace {

int protectionOf(uint32_t permissions) {
  int prot = 0;
  if (permissions & static_cast<uint32_t>(HostPermission::kRead)) prot |= PROT_READ;
  if (permissions & static_cast<uint32_t>(HostPermission::kWrite)) prot |= PROT_WRITE;
  if (permissions & static_cast<uint32_t>(HostPermission::kExecute)) prot |= PROT_EXEC;
  return prot;
}

// Whether [at, at + size) is free: reserved and released again.
bool isFree(uint64_t at, uint64_t size) {
  void* got = mmap(reinterpret_cast<void*>(at), size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (got == MAP_FAILED) return false;
  munmap(got, size);
  return got == reinterpret_cast<void*>(at);
}

}  // namespace

HostMemory::HostMemory(HostMemory&& other) noexcept
    : mappings_(std::move(other.mappings_)), fd_(std::exchange(other.fd_, -1)),
      alias_(std::exchange(other.alias_, nullptr)), total_(std::exchange(other.total_, 0)), private_(other.private_) {}

HostMemory::~HostMemory() {
  for (const Mapping& m : mappings_) munmap(reinterpret_cast<void*>(m.address), m.size);
  if (alias_) munmap(alias_, total_);
  if (fd_ >= 0) close(fd_);
}

std::optional<HostMemory> HostMemory::map(const HostJob& job, HostMapRefusal& refusal) {
  std::string& error = refusal.error;
  HostMemory memory;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  for (const HostRegion& r : job.regions)
    if (r.address % page || r.bytes.size() % page || r.bytes.empty()) {
      error = "region at " + hexAddress(r.address) + ": not whole pages";
      return std::nullopt;
    }
  memory.mappings_ = memfdLayout(job);
  memory.private_ = job.privateImages;
  for (const Mapping& m : memory.mappings_) memory.total_ += m.size;
  memory.total_ += kControlPageBytes;
  // Not close-on-exec-less: an external patcher opens it through /proc/PID/fd.
  memory.fd_ = memfd_create(kGuestImagesMemfd, MFD_CLOEXEC);
  if (memory.fd_ < 0 || ftruncate(memory.fd_, static_cast<off_t>(memory.total_)) != 0) {
    error = std::string("memfd_create: ") + std::strerror(errno);
    return std::nullopt;
  }
  void* alias = mmap(nullptr, memory.total_, PROT_READ | PROT_WRITE, MAP_SHARED, memory.fd_, 0);
  if (alias == MAP_FAILED) {
    error = std::string("mmap of the writable alias: ") + std::strerror(errno);
    return std::nullopt;
  }
  memory.alias_ = static_cast<uint8_t*>(alias);
  for (size_t i = 0; i < job.regions.size(); ++i)
    std::memcpy(memory.alias_ + memory.mappings_[i].offset, job.regions[i].bytes.data(), job.regions[i].bytes.size());
  std::vector<Mapping> placed;
  for (size_t i = 0; i < memory.mappings_.size(); ++i) {
    const Mapping m = memory.mappings_[i];  // a copy: mappings_ is replaced below on failure
    // The guest view: readable and executable until the sections say otherwise.
    const int sharing = job.privateImages ? MAP_PRIVATE : MAP_SHARED;
    void* at = mmap(reinterpret_cast<void*>(m.address), m.size, PROT_READ | PROT_EXEC, sharing | MAP_FIXED_NOREPLACE,
                    memory.fd_, static_cast<off_t>(m.offset));
    if (at != reinterpret_cast<void*>(m.address)) {
      if (at != MAP_FAILED) munmap(at, m.size);
      // The plan's addresses are absolute (the emulator's layout): this job cannot run
      // elsewhere. When the region is part of the movable span, say where that would
      // fit: hph lays the images out there, verifies the plan there and sends a new job.
      const std::string& name = job.regions[i].name;
      error = "region at " + hexAddress(m.address) + (name.empty() ? "" : " (" + name + ")") +
              ": cannot be mapped at that address (" +
              (at == MAP_FAILED ? std::strerror(errno) : "the kernel chose another address") +
              "): the preferred base is taken";
      memory.mappings_ = std::move(placed);
      const auto& span = job.movable;
      if (span && m.address >= span->begin && m.address < span->end) {
        for (const Mapping& done : memory.mappings_) munmap(reinterpret_cast<void*>(done.address), done.size);
        memory.mappings_.clear();
        refusal.movableSpanFits = freePlaceFor(*span, isFree);
        if (!refusal.movableSpanFits)
          error += ", and the images' span " + hexAddress(span->begin) + ".." + hexAddress(span->end) +
                   " finds no free place below " + hexAddress(span->limit);
      }
      return std::nullopt;
    }
    placed.push_back(m);
  }
  for (const HostProtection& p : job.protections) {
    if (mprotect(reinterpret_cast<void*>(p.address & ~(page - 1)), p.size + (p.address & (page - 1)),
                 protectionOf(p.permissions)) != 0) {
      error = "protection of " + hexAddress(p.address) + ": " + std::strerror(errno);
      return std::nullopt;
    }
  }
  return memory;
}

uint8_t* HostMemory::writable(uint64_t address, uint64_t size) const {
  for (const Mapping& m : mappings_)
    if (address >= m.address && address + size <= m.address + m.size) return alias_ + m.offset + (address - m.address);
  return nullptr;
}

std::vector<uint8_t> HostMemory::read(uint64_t address, uint64_t size) const {
  // Private images: what the threads run is the guest view (a debugger's writes), which
  // the memfd alias does not see.
  const uint8_t* at = writable(address, size);
  if (at && private_) at = reinterpret_cast<const uint8_t*>(address);
  return at ? std::vector<uint8_t>(at, at + size) : std::vector<uint8_t>{};
}

}  // namespace hph
