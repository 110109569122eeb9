#include "emu/core/VisiblePoints.h"

#include <algorithm>
#include <cstring>
#include <variant>

namespace hph {

VisiblePoints::VisiblePoints(const Arch& arch, const Plan& plan) : arch_(arch) {
  auto add = [&](uint64_t address, uint64_t size) {
    if (size > 0) planCode_.push_back({address, address + size});
  };
  for (const Step& step : plan.steps) {
    if (const auto* store = std::get_if<StoreStep>(&step)) add(store->address, store->bytes.size());
    if (const auto* move = std::get_if<MovePcStep>(&step)) {
      add(move->from, move->size);
      add(move->to, move->size);
    }
    if (const auto* maintenance = std::get_if<CacheMaintenanceStep>(&step))
      add(maintenance->address, maintenance->size);
    // Release looks at return addresses one byte before its range too (a call's return lands there).
    if (const auto* release = std::get_if<ReleaseStep>(&step)) add(release->address - 1, release->size + 1);
  }
}

bool VisiblePoints::needsPoint(const Machine& machine, uint64_t pc, uint32_t size) {
  std::array<uint8_t, 16> bytes{};
  const uint32_t length = std::min<uint32_t>(size, bytes.size());
  if (length == 0 || !machine.readGuest(pc, std::span(bytes).first(length))) return true;
  if (const auto found = known_.find(pc);
      found != known_.end() && found->second.size == length && found->second.bytes == bytes)
    return found->second.needsPoint;
  const bool needs = decide(machine, pc, std::span<const uint8_t>(bytes).first(length));
  known_[pc] = Known{bytes, length, needs};
  return needs;
}

bool VisiblePoints::decide(const Machine& machine, uint64_t pc, std::span<const uint8_t> bytes) const {
  auto inPlanCode = [&](uint64_t begin, uint64_t end) {
    return std::any_of(planCode_.begin(), planCode_.end(),
                       [&](const AddressRange& r) { return begin < r.end && r.begin < end; });
  };
  if (inPlanCode(pc, pc + bytes.size())) return true;
  const std::optional<RegisterOnlyInstruction> insn = arch_.registerOnly(bytes, pc);
  if (!insn || insn->indirect) return true;
  // Where it goes must be watched (unwatched code runs without points) and outside the
  // plan's ranges: a thread about to enter them is somewhere else than one inside them,
  // which PC moves, release and the checkers tell apart.
  for (const std::optional<uint64_t>& to : {insn->next, insn->target})
    if (to && (!machine.watches(*to) || inPlanCode(*to, *to + 1))) return true;
  return false;
}

}  // namespace hph
