#include "emu/core/StaleFetch.h"

#include <cstring>

namespace hph {

bool StaleFetch::plant(Machine& machine, ActorId thread, uint64_t pc, uint32_t staleWord) {
  std::vector<uint8_t> newest(4), stale(4);
  machine.readGuest(pc, newest);
  std::memcpy(stale.data(), &staleWord, 4);
  if (stale == newest) return false;
  machine.writeCode(pc, stale);
  state_.restore = std::make_pair(pc, newest);
  state_.last = Planted{thread, pc, machine.arch().decode(stale, pc).text};
  state_.armed = true;
  return true;
}

bool StaleFetch::restoreAfterRun(Machine& machine) {
  if (!state_.restore || state_.armed) return false;
  restore(machine);
  state_.restartAfter = true;
  return true;
}

bool StaleFetch::takeArmed() {
  const bool armed = state_.armed;
  state_.armed = false;
  return armed;
}

bool StaleFetch::takeRestart() {
  const bool restart = state_.restartAfter;
  state_.restartAfter = false;
  return restart;
}

void StaleFetch::threadStopped(Machine& machine, bool aboutToRunIt) {
  if (aboutToRunIt && state_.armed) return;
  state_.armed = false;
  restore(machine);
}

void StaleFetch::restore(Machine& machine) {
  if (!state_.restore) return;
  machine.writeCode(state_.restore->first, state_.restore->second);
  state_.restore.reset();
}

}  // namespace hph
