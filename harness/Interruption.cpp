#include "harness/Interruption.h"

#include <signal.h>

namespace hph {
namespace {

std::atomic<bool> interruptRequested{false};
std::atomic<int> interruptSignal{0};
struct sigaction previousInt, previousTerm;

void onSignal(int number) {
  if (interruptRequested.exchange(true)) {
    // The second signal: no more clean stop, die as the signal says.
    signal(number, SIG_DFL);
    raise(number);
    return;
  }
  interruptSignal = number;
}

}  // namespace

InterruptionScope::InterruptionScope() {
  interruptRequested = false;
  interruptSignal = 0;
  struct sigaction action{};
  action.sa_handler = onSignal;
  // Restart system calls: a signal during a report write must not fail the write.
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previousInt);
  sigaction(SIGTERM, &action, &previousTerm);
}

InterruptionScope::~InterruptionScope() {
  sigaction(SIGINT, &previousInt, nullptr);
  sigaction(SIGTERM, &previousTerm, nullptr);
}

const std::atomic<bool>& InterruptionScope::requested() const { return interruptRequested; }
int InterruptionScope::signal() const { return interruptSignal; }

}  // namespace hph
