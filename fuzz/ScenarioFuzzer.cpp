// libFuzzer target: a scenario file from untrusted bytes. Every key is read strictly; bad
// input is an error value naming the file and field, never a crash.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "harness/scenario/Scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader takes a path: the bytes go to an anonymous in-memory file.
  static const int fd = memfd_create("scenario.toml", 0);
  if (fd < 0) return 0;
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  auto scenario = hph::loadScenario("/proc/self/fd/" + std::to_string(fd));
  return scenario ? 0 : 0;
}
