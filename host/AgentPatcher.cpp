#include "host/AgentPatcher.h"

#include <signal.h>

#include <algorithm>
#include <chrono>

namespace hph {
namespace {

constexpr auto kAnswerTimeout = std::chrono::seconds(10);
constexpr long kPollNs = 1'000'000;

}  // namespace

bool AgentPatcher::ask(AgentCommand command, uint64_t first, uint64_t second, std::string& error) {
  AgentMailbox& box = control().agent;
  if (posted_ == 0) posted_ = __atomic_load_n(&box.request, __ATOMIC_ACQUIRE);
  if (posted_ + 1 == 0) posted_ = 1;  // 0 marks a command being rewritten
  const uint32_t request = ++posted_;
  __atomic_store_n(&box.commandFor, 0u, __ATOMIC_RELEASE);
  __atomic_store_n(&box.command, static_cast<uint64_t>(command), __ATOMIC_RELAXED);
  __atomic_store_n(&box.arguments[0], first, __ATOMIC_RELAXED);
  __atomic_store_n(&box.arguments[1], second, __ATOMIC_RELAXED);
  __atomic_store_n(&box.commandFor, request, __ATOMIC_RELEASE);
  __atomic_store_n(&box.request, request, __ATOMIC_RELEASE);
  futexWakeAll(&box.request);
  const auto giveUp = std::chrono::steady_clock::now() + kAnswerTimeout;
  for (uint32_t seen; (seen = __atomic_load_n(&box.response, __ATOMIC_ACQUIRE)) != request;) {
    if (std::chrono::steady_clock::now() > giveUp || kill(target_, 0) != 0) {
      error = "the runner's agent did not answer within 10 s";
      return false;
    }
    futexWait(&box.response, seen, kPollNs);
  }
  if (box.ok == 1) return true;
  error = box.text;
  return false;
}

bool AgentPatcher::cacheMaintenance(uint64_t address, uint64_t size, std::string& error) {
  return ask(AgentCommand::kCacheMaintenance, address, size, error);
}

bool AgentPatcher::syncAll(std::string& error) { return ask(AgentCommand::kSyncAll, 0, 0, error); }

bool AgentPatcher::suspendAll(std::string& error) {
  stopped_.clear();
  if (!ask(AgentCommand::kSuspendAll, 0, 0, error)) return false;
  const AgentMailbox& box = control().agent;
  stopped_.assign(box.stopped, box.stopped + std::min<uint64_t>(box.stoppedCount, kAgentMaxThreads));
  return true;
}

void AgentPatcher::resumeAll() {
  std::string ignored;  // an agent that does not answer has nothing left to resume
  ask(AgentCommand::kResumeAll, 0, 0, ignored);
  stopped_.clear();
}

bool AgentPatcher::setPc(const StoppedThread& thread, uint64_t pc, std::string& error) {
  return ask(AgentCommand::kSetPc, thread.id, pc, error);
}

bool AgentPatcher::returnAddressInside(uint64_t from, uint64_t size, std::optional<std::string>& found,
                                       std::string& error) {
  found.reset();
  if (!ask(AgentCommand::kReturnAddressInside, from, size, error)) return false;
  if (control().agent.text[0] != '\0') found = std::string(control().agent.text);
  return true;
}

}  // namespace hph
