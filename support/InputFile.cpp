#include "support/InputFile.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "support/EchoText.h"

namespace hph {
namespace {

std::string_view kindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

Result<std::vector<uint8_t>> readInputFile(const std::string& path, uint64_t maxBytes) {
  const std::string shown = echoText(path, 200);
  if (path.find('\0') != std::string::npos) return badInput(fmt::format("{}: the path holds a NUL character", shown));
  // stat first: opening a FIFO for reading blocks until a writer appears.
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return badInput(fmt::format("{}: cannot open: {}", shown, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return badInput(fmt::format("{}: is {}, not a regular file", shown, kindOf(st.st_mode)));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return badInput(fmt::format("{}: cannot open: {}", shown, std::strerror(errno)));
  // Checked again on what was opened (the path may have been swapped in between).
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return badInput(fmt::format("{}: is {}, not a regular file", shown, kindOf(st.st_mode)));
  }
  if (static_cast<uint64_t>(st.st_size) > maxBytes) {
    ::close(fd);
    return badInput(fmt::format("{}: {} bytes is more than the limit of {} bytes", shown, st.st_size, maxBytes));
  }
  std::vector<uint8_t> bytes;
  bytes.reserve(static_cast<size_t>(st.st_size));
  uint8_t buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return badInput(fmt::format("{}: cannot read: {}", shown, std::strerror(error)));
    }
    if (n == 0) break;
    // A file that grows while read is still held to the limit.
    if (bytes.size() + static_cast<size_t>(n) > maxBytes) {
      ::close(fd);
      return badInput(fmt::format("{}: more than the limit of {} bytes", shown, maxBytes));
    }
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  ::close(fd);
  return bytes;
}

Result<std::string> readInputText(const std::string& path, uint64_t maxBytes) {
  auto bytes = readInputFile(path, maxBytes);
  if (!bytes) return bytes.error();
  return std::string(bytes->begin(), bytes->end());
}

}  // namespace hph
