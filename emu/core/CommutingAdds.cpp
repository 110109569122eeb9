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

std::optional<CommutingAdds::Found> CommutingAdds::at(const Machine& machine, uint64_t pc, size_t planStep,
                                                      const CodeChanges& willChange) {
  const Arch& arch = machine.arch();
  if (!arch.hasAtomicAdds()) return std::nullopt;
  // As much of the code as is mapped (an add near the end of a section is shorter).
  std::array<uint8_t, kAtomicAddBytes> code{};
  size_t size = code.size();
  while (size > 0 && !machine.readGuest(pc, std::span(code).first(size))) --size;
  if (size == 0) return std::nullopt;
  const std::span<const uint8_t> bytes = std::span(code).first(size);
  Known& known = known_[pc];
  std::optional<AtomicAdd> add;
  if (known.size != size || known.bytes != code) {
    known.bytes = code;
    known.size = size;
    add = arch.atomicAdd(machine.engine(), bytes, pc);
    known.atomicAdd = add.has_value();
  } else if (known.atomicAdd) {
    add = arch.atomicAdd(machine.engine(), bytes, pc);  // its registers may point elsewhere now
  }
  if (!add) return std::nullopt;
  const Engine& engine = machine.engine();
  const WalkRegisters registers{.sp = engine.reg(arch.spRegister()),
                                .link = arch.facts().linkRegister ? engine.reg(*arch.facts().linkRegister) : 0};
  std::vector<Answer>& answers = answers_[pc];
  for (const Answer& answer : answers)
    if (answer.registers == registers && answer.planStep == planStep && stillHolds(machine, answer))
      return Found{*add, answer.unobserved};
  Answer answer{.registers = registers, .planStep = planStep};
  // The add's own code decides which results it leaves.
  answer.read.emplace_back(pc, std::vector<uint8_t>(bytes.begin(), bytes.begin() + (add->end - add->begin)));
  const GuestRead recording = [&](uint64_t address, std::span<uint8_t> out) {
    if (!machine.readGuest(address, out)) return false;
    answer.read.emplace_back(address, std::vector<uint8_t>(out.begin(), out.end()));
    return true;
  };
  answer.unobserved = arch.atomicAddUnobserved(bytes, pc, registers, recording, willChange);
  const bool unobserved = answer.unobserved;
  if (answers.size() >= kAnswersPerInstruction) answers.erase(answers.begin());
  answers.push_back(std::move(answer));
  return Found{*add, unobserved};
}

}  // namespace hph
