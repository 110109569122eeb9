#include "plan/Plan.h"

#include <fmt/format.h>

#include "support/HexText.h"

namespace hph {
namespace {

struct Describe {
  std::string operator()(const StoreStep& s) const {
    return fmt::format("store {} byte{} [{}] at {:#x} {}{}", s.bytes.size(), s.bytes.size() == 1 ? "" : "s",
                       hexBytes(s.bytes), s.address, s.label,
                       s.data ? (s.live ? " (data)" : " (data, not live)") : (s.live ? "" : " (not live)"));
  }
  std::string operator()(const CacheMaintenanceStep& s) const {
    const std::string ops = std::string(s.cleanData ? "dc cvau, " : "") +
                            (s.invalidateInstructions ? "dsb ish, ic ivau, " : "") + "dsb ish";
    return fmt::format("cache maintenance ({}) over [{:#x}, +{}) {}", ops, s.address, s.size, s.label);
  }
  std::string operator()(const SyncAllStep& s) const { return fmt::format("sync all threads {}", s.label); }
  std::string operator()(const SuspendAllStep&) const { return "suspend all threads"; }
  std::string operator()(const ResumeAllStep&) const { return "resume all threads"; }
  std::string operator()(const MovePcStep& s) const {
    return fmt::format("move any pc in [{:#x}, +{}) to {:#x} + offset {}", s.from, s.size, s.to, s.label);
  }
  std::string operator()(const ReleaseStep& s) const {
    return fmt::format("release [{:#x}, +{}) {} once no thread is in it", s.address, s.size, s.label);
  }
};

}  // namespace

std::string describeStep(const Step& step) { return std::visit(Describe{}, step); }

}  // namespace hph
