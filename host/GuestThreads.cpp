#include "host/GuestThreads.h"

#include "host/MonotonicClock.h"
#include "host/ThreadArch.h"

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include <linux/futex.h>
#include <sys/syscall.h>

namespace hph {
namespace {

// The signal that parks a thread for the patcher (a real-time one: nothing else uses it).
const int kSuspendSignal = SIGRTMIN + 3;
constexpr auto kSuspendTimeout = std::chrono::seconds(5);
// The patcher sleeps on `parkings` between checks; a bound, in case a thread ended
// without parking (it faulted or finished).
constexpr long kParkWaitNs = 1'000'000;

// The one GuestThreads whose threads the handlers serve (see GuestThreads.h).
GuestThreads* activeThreads = nullptr;
// The slot of the guest thread running here (nullptr on the runner's own threads).
thread_local void* currentSlot = nullptr;

}  // namespace

GuestThreads::GuestThreads() {
  activeThreads = this;
  struct sigaction suspend{};
  suspend.sa_sigaction = onSuspend;
  suspend.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&suspend.sa_mask);
  sigaction(kSuspendSignal, &suspend, nullptr);
  struct sigaction fault{};
  fault.sa_sigaction = onFault;
  fault.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&fault.sa_mask);
  for (int s : {SIGSEGV, SIGILL, SIGBUS, SIGTRAP, SIGFPE}) sigaction(s, &fault, nullptr);
}

GuestThreads::~GuestThreads() {
  stopAndJoin();
  activeThreads = nullptr;
}

void* GuestThreads::threadMain(void* raw) {
  Slot& slot = *static_cast<Slot*>(raw);
  currentSlot = &slot;
  thread_arch::installTeb(slot.teb, thread_arch::guestThreadId(slot.index));
  pthread_attr_t attributes;
  if (pthread_getattr_np(pthread_self(), &attributes) == 0) {
    void* base = nullptr;
    size_t size = 0;
    if (pthread_attr_getstack(&attributes, &base, &size) == 0) slot.stackTop = reinterpret_cast<uint64_t>(base) + size;
    pthread_attr_destroy(&attributes);
  }
  // Created with the suspend signal blocked (startThread), and kept so until here, where
  // it knows its slot and holds no lock of the C library (the TEB's allocation above): a
  // thread parked inside malloc could block another's exit, which a spawn joins with
  // spawnMutex_ held. A signal that came meanwhile is delivered now, and the thread parks
  // before any guest code runs.
  sigset_t suspend;
  sigemptyset(&suspend);
  sigaddset(&suspend, kSuspendSignal);
  pthread_sigmask(SIG_UNBLOCK, &suspend, nullptr);
  if (sigsetjmp(slot.escape, 1) == 0) {
    if (slot.spawned) slot.exitCode.store(thread_arch::callGuest(slot.entry, slot.argument), std::memory_order_release);
    while (!slot.spawned && !slot.owner->stop_.load(std::memory_order_acquire)) {
      const auto phase = static_cast<PlanPhase>(__atomic_load_n(slot.owner->phase_, __ATOMIC_ACQUIRE));
      const uint64_t begun = monotonicNs();
      thread_arch::callGuest(slot.entry, slot.index);
      const uint64_t took = monotonicNs() - begun;
      const auto ended = static_cast<PlanPhase>(__atomic_load_n(slot.owner->phase_, __ATOMIC_ACQUIRE));
      ++slot.calls;
      if (phase == PlanPhase::kBefore) ++slot.before;
      if (phase == PlanPhase::kAfter) ++slot.after;
      (phase == ended && phase != PlanPhase::kApplying ? slot.steady : slot.duringApply).add(took);
    }
  }
  // No parking once done: a spawn joining this thread to reuse its slot, with the lock
  // held, must not wait for a thread parked on its way out.
  pthread_sigmask(SIG_BLOCK, &suspend, nullptr);
  slot.done.store(true, std::memory_order_release);
  return nullptr;
}

void GuestThreads::onSuspend(int, siginfo_t*, void* context) {
  auto* slot = static_cast<Slot*>(currentSlot);
  if (!slot) return;
  slot->context = static_cast<ucontext_t*>(context);
  // Parked for the newest suspension it can see. A suspension that comes while it is
  // still here (resumed but not yet scheduled) finds `resume` 0 again and wakes it, and
  // it parks again under the new number, without leaving: its context is still exact.
  for (;;) {
    const uint32_t rung = slot->bell.load(std::memory_order_acquire);
    const uint64_t wanted = slot->requested.load(std::memory_order_acquire);
    if (slot->resume.load(std::memory_order_acquire) != 0) break;
    if (slot->parkedFor.exchange(wanted, std::memory_order_acq_rel) != wanted) {
      // Wake the patcher: it sleeps until the last thread parked, and then gets a core at
      // once (every other thread sleeps too), instead of at the kernel's next tick.
      slot->owner->parkings.fetch_add(1, std::memory_order_acq_rel);
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&slot->owner->parkings), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr,
              0);
    }
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&slot->bell), FUTEX_WAIT_PRIVATE, rung, nullptr, nullptr, 0);
  }
  slot->context = nullptr;
}

void GuestThreads::onFault(int signal, siginfo_t*, void* context) {
  auto* slot = static_cast<Slot*>(currentSlot);
  if (!slot) {
    // The runner's own code faulted: that is a crash of the runner, reported by hph.
    ::signal(signal, SIG_DFL);
    raise(signal);
    return;
  }
  auto* saved = static_cast<ucontext_t*>(context);
  if (signal == SIGTRAP) {
    const uint64_t at = thread_arch::trappedAt(saved);
    std::optional<uint64_t> continuation;
    for (const auto& [entry, replacement] : slot->owner->breakpointRedirects_)
      if (entry == at) continuation = replacement;  // the latest patch of a series
    if (continuation) {
      thread_arch::setContextPc(saved, *continuation);
      return;
    }
  }
  slot->faulted = true;
  slot->fault = {slot->index, thread_arch::contextPc(saved), signal};
  siglongjmp(slot->escape, 1);
}

int GuestThreads::startThread(Slot& slot) {
  sigset_t suspend, previous;
  sigemptyset(&suspend);
  sigaddset(&suspend, kSuspendSignal);
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, 1 << 20);
  // The new thread inherits the mask: it unblocks once it knows its slot (threadMain).
  pthread_sigmask(SIG_BLOCK, &suspend, &previous);
  const int failed = pthread_create(&slot.handle, &attributes, threadMain, &slot);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  pthread_attr_destroy(&attributes);
  slot.started = failed == 0;
  return failed;
}

bool GuestThreads::start(uint64_t entry, uint32_t count, std::vector<std::pair<uint64_t, uint64_t>> breakpointRedirects,
                         std::string& error) {
  breakpointRedirects_ = std::move(breakpointRedirects);
  if (count > kMaxThreads) {
    error = "at most " + std::to_string(kMaxThreads) + " threads";
    return false;
  }
  // Workers that spawn threads at once wait for the lock: their slots come after these.
  const std::lock_guard lock(spawnMutex_);
  for (uint32_t i = 0; i < count; ++i) {
    auto& slot = slots_[i] = std::make_unique<Slot>();
    slot->owner = this;
    slot->index = i;
    slot->entry = entry;
    slot->argument = i;
    if (const int failed = startThread(*slot)) {
      error = std::string("pthread_create: ") + strerror(failed);
      return false;
    }
    published_.store(i + 1, std::memory_order_release);
  }
  return true;
}

std::optional<uint32_t> GuestThreads::spawn(uint64_t entry, uint64_t argument) {
  // The caller (a guest thread in its CreateThread shim) holds off its own suspension
  // while it holds the lock: a patcher waiting for it to park would otherwise wait for
  // the lock it holds.
  sigset_t suspend, previous;
  sigemptyset(&suspend);
  sigaddset(&suspend, kSuspendSignal);
  pthread_sigmask(SIG_BLOCK, &suspend, &previous);
  std::optional<uint32_t> index;
  {
    const std::lock_guard lock(spawnMutex_);
    const uint32_t count = published_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < count && !index && !stop_.load(); ++i) {
      Slot& old = *slots_[i];
      if (old.spawned && old.started && old.closed.load() && old.done.load()) {
        pthread_join(old.handle, nullptr);  // ended: it cannot park (threadMain)
        old.started = false;
        if (old.faulted) spawnedFaults_.push_back(old.fault);  // reported with the rest
        index = i;
      }
    }
    if (!index && count < kMaxThreads && !stop_.load()) {
      slots_[count] = std::make_unique<Slot>();
      index = count;
    }
    if (index) {
      Slot& slot = *slots_[*index];
      slot.owner = this;
      slot.index = *index;
      slot.spawned = true;
      slot.entry = entry;
      slot.argument = argument;
      slot.exitCode.store(0);
      slot.closed.store(false);
      slot.faulted = false;
      slot.context = nullptr;
      slot.parkedFor.store(0);
      slot.done.store(false);
      // Born into a suspension in force: it parks before it runs guest code.
      slot.resume.store(suspending_ ? 0 : 1);
      slot.requested.store(suspension_);
      if (startThread(slot) != 0) {
        slot.done.store(true);
        slot.closed.store(true);
        index.reset();
      } else {
        if (*index == count) published_.store(count + 1, std::memory_order_release);
        if (suspending_) pthread_kill(slot.handle, kSuspendSignal);
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return index;
}

void GuestThreads::close(uint32_t index) {
  if (slots_[index]->spawned) slots_[index]->closed.store(true, std::memory_order_release);
}

GuestThreads* GuestThreads::active() { return activeThreads; }

void GuestThreads::stopAndJoin() {
  {
    const std::lock_guard lock(spawnMutex_);  // no spawn after this
    stop_.store(true, std::memory_order_release);
  }
  resumeAll();  // a thread left parked would never see stop_
  for (uint32_t i = 0; i < size(); ++i)
    if (slots_[i]->started) {
      pthread_join(slots_[i]->handle, nullptr);
      slots_[i]->started = false;
    }
}

void GuestThreads::request(Slot& slot, uint64_t number) {
  slot.resume.store(0, std::memory_order_release);
  slot.requested.store(number, std::memory_order_release);
  // A thread still in its handler from the last suspension sleeps on the bell: wake it
  // to park under this number. Any other takes the signal.
  ring(slot);
  pthread_kill(slot.handle, kSuspendSignal);
}

bool GuestThreads::suspendAll(std::string& error) {
  std::unique_lock lock(spawnMutex_);
  const uint64_t number = ++suspension_;
  suspending_ = true;
  lock.unlock();
  uint32_t seen = parkings.load(std::memory_order_acquire);
  const auto deadline = std::chrono::steady_clock::now() + kSuspendTimeout;
  for (;;) {
    // Ask every thread not asked yet: at first all, then those spawned since. A thread
    // spawns only with the lock held and its own suspension held off, so once everyone
    // asked has parked, every thread there is has been asked (or was born parked).
    lock.lock();
    for (uint32_t i = 0; i < size(); ++i)
      if (!slots_[i]->done.load(std::memory_order_acquire) && slots_[i]->requested.load() != number)
        request(*slots_[i], number);
    const uint32_t known = static_cast<uint32_t>(size());
    lock.unlock();
    const Slot* waitingFor = nullptr;
    for (uint32_t i = 0; i < known && !waitingFor; ++i)
      if (!parked(*slots_[i]) && !slots_[i]->done.load(std::memory_order_acquire)) waitingFor = slots_[i].get();
    if (!waitingFor) {
      lock.lock();
      bool stable = size() == known;
      for (uint32_t i = 0; i < known && stable; ++i)
        stable = slots_[i]->done.load(std::memory_order_acquire) || slots_[i]->requested.load() == number;
      lock.unlock();
      if (stable) return true;
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      error = "thread " + std::to_string(waitingFor->index) + " did not stop within 5 s";
      resumeAll();
      return false;
    }
    const timespec bound{0, kParkWaitNs};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&parkings), FUTEX_WAIT_PRIVATE, seen, &bound, nullptr, 0);
    seen = parkings.load(std::memory_order_acquire);
  }
}

void GuestThreads::resumeAll() {
  const std::lock_guard lock(spawnMutex_);
  suspending_ = false;
  for (uint32_t i = 0; i < size(); ++i) {
    slots_[i]->resume.store(1, std::memory_order_release);
    ring(*slots_[i]);
  }
}

void GuestThreads::ring(Slot& slot) {
  slot.bell.fetch_add(1, std::memory_order_acq_rel);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&slot.bell), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

bool GuestThreads::parked(const Slot& slot) const {
  return slot.resume.load(std::memory_order_acquire) == 0 &&
         slot.parkedFor.load(std::memory_order_acquire) == suspension_;
}

std::optional<uint64_t> GuestThreads::pcOf(size_t thread) const {
  const Slot& slot = *slots_[thread];
  if (!parked(slot)) return std::nullopt;
  return thread_arch::contextPc(slot.context);
}

namespace {

// One word of a parked thread's stack. The scan reads whatever the thread's frames hold,
// AddressSanitizer's redzones between its locals included: reading them is the point (a
// return address may sit anywhere), so the read is not instrumented.
__attribute__((no_sanitize("address"))) uint64_t stackWord(uint64_t at) {
  return *reinterpret_cast<const volatile uint64_t*>(at);
}

}  // namespace

std::optional<std::pair<uint64_t, uint64_t>> GuestThreads::returnAddressInside(size_t thread, uint64_t from,
                                                                               uint64_t size) const {
  const Slot& slot = *slots_[thread];
  if (!parked(slot)) return std::nullopt;
  auto inside = [&](uint64_t v) { return v > from && v < from + size; };
  if (const auto link = thread_arch::contextLink(slot.context); link && inside(*link))
    return std::pair{*link, uint64_t{0}};
  // Every word, as the emulator looks (Process::returnAddressInside): a stale value that
  // merely looks like one costs a retry, never a wrong move.
  for (uint64_t at = thread_arch::contextSp(slot.context) & ~uint64_t{7}; at + 8 <= slot.stackTop; at += 8) {
    const uint64_t value = stackWord(at);
    if (inside(value)) return std::pair{value, at};
  }
  return std::nullopt;
}

void GuestThreads::setPc(size_t thread, uint64_t pc) {
  Slot& slot = *slots_[thread];
  if (parked(slot)) thread_arch::setContextPc(slot.context, pc);
}

void GuestThreads::collect(HostResult& result) const {
  result.faults.insert(result.faults.end(), spawnedFaults_.begin(), spawnedFaults_.end());
  for (uint32_t i = 0; i < size(); ++i) {
    const auto& slot = slots_[i];
    if (slot->faulted) result.faults.push_back(slot->fault);
    if (slot->spawned) continue;  // the calls are the workers'
    result.calls.push_back(slot->calls);
    result.callsBeforePlan += slot->before;
    result.callsAfterPlan += slot->after;
    result.callNsSteady.merge(slot->steady);
    result.callNsDuringApply.merge(slot->duringApply);
  }
}

uint64_t GuestThreads::callOnThisThread(uint64_t entry) {
  std::vector<uint8_t> teb;
  thread_arch::installTeb(teb, thread_arch::kOutsideThreadId);
  return thread_arch::callGuest(entry);
}

}  // namespace hph
