#include "emu/core/CommutingAdds.h"

#include <algorithm>

namespace hph {
namespace {

// Answers kept per instruction: one per thread stack it runs on, in practice.
constexpr size_t kAnswersPerInstruction = 64;

}  // namespace

bool CommutingAdds::stillHolds(const Machine& machine, const Answer& answer) const {
  std::array<uint8_t, 64> now{};
  return std::all_of(answer.read.begin(), answer.read.end(), [&](const auto& entry) {
    const auto& [address, bytes] = entry;
    if (bytes.size() > now.size()) return false;
    const std::span<uint8_t> view = std::span(now).first(bytes.size());
    return machine.readGuest(address, view) && std::equal(view.begin(), view.end(), bytes.begin());
  });
}

std::optional<uint64_t> CommutingAdds::at(const Machine& machine, uint64_t pc, uint32_t size, size_t planStep,
                                          const CodeChanges& willChange) {
  const Arch& arch = machine.arch();
  if (!arch.hasLockedAdds() || size > 16) return std::nullopt;
  std::array<uint8_t, 16> code{};
  if (!machine.readGuest(pc, std::span(code).first(size))) return std::nullopt;
  const std::span<const uint8_t> bytes = std::span(code).first(size);
  Known& known = known_[pc];
  std::optional<uint64_t> address;
  if (known.size != size || known.bytes != code) {
    known.bytes = code;
    known.size = size;
    address = arch.lockedAdd(machine.engine(), bytes, pc);
    known.lockedAdd = address.has_value();
  } else if (known.lockedAdd) {
    address = arch.lockedAdd(machine.engine(), bytes, pc);  // its registers may point elsewhere now
  }
  if (!address) return std::nullopt;
  const uint64_t sp = machine.engine().reg(arch.spRegister());
  std::vector<Answer>& answers = answers_[pc];
  for (const Answer& answer : answers)
    if (answer.sp == sp && answer.planStep == planStep && stillHolds(machine, answer))
      return answer.unobserved ? address : std::nullopt;
  Answer answer{.sp = sp, .planStep = planStep};
  // The instruction's own bytes decide which results it leaves.
  answer.read.emplace_back(pc, std::vector<uint8_t>(bytes.begin(), bytes.end()));
  const GuestRead recording = [&](uint64_t at, std::span<uint8_t> out) {
    if (!machine.readGuest(at, out)) return false;
    answer.read.emplace_back(at, std::vector<uint8_t>(out.begin(), out.end()));
    return true;
  };
  answer.unobserved = arch.lockedAddUnobserved(bytes, pc, sp, recording, willChange);
  const bool unobserved = answer.unobserved;
  if (answers.size() >= kAnswersPerInstruction) answers.erase(answers.begin());
  answers.push_back(std::move(answer));
  return unobserved ? address : std::nullopt;
}

}  // namespace hph
