#include "emu/hybrid/HybridProcess.h"

#include <fmt/format.h>
#include <unicorn/arm64.h>
#include <unicorn/x86.h>

#include <cstring>

#include "emu/hybrid/EcRegisters.h"
#include "emu/pe/ChpeMetadata.h"

namespace hph::hybrid {
namespace {

constexpr uint64_t kPage = 0x1000;
// The routines a call's result lists (the tests' view of its path); a runaway calls more.
constexpr size_t kRoutinesKept = 4096;

bool inAny(const std::vector<AddressRange>& ranges, uint64_t address) {
  for (const AddressRange& r : ranges)
    if (r.contains(address)) return true;
  return false;
}

Result<void> protect(uc_engine* uc, const std::vector<AddressRange>& ranges, uint32_t permissions) {
  for (const AddressRange& r : ranges)
    if (uc_err err = uc_mem_protect(uc, r.begin, r.end - r.begin, permissions); err != UC_ERR_OK)
      return internalError(
          fmt::format("cannot set the permissions of [0x{:x}, 0x{:x}): {}", r.begin, r.end, ucErrorText(err)));
  return {};
}

Result<void> requireArm64ec(const PeImage& image) {
  if (!image.chpe)
    return badInput(
        fmt::format("{}: load config.CHPEMetadataPointer: no CHPE metadata, so no hybrid process to run", image.path));
  // An Arm64EC image is an x64 PE whose Arm64EC code the CHPE metadata describes; an
  // ARM64X image (an Arm64 PE with an Arm64EC view) is not read as a hybrid.
  if (image.arch->kind() != ArchKind::kX64)
    return badInput(fmt::format("{}: FileHeader.Machine: a hybrid process runs an Arm64EC image (machine x64); this "
                                "one is {} (ARM64X images are not read as hybrids)",
                                image.path, image.arch->name()));
  return {};
}

}  // namespace

HybridProcess::HybridProcess(std::unique_ptr<Machine> machine, const PeImage& image)
    : machine_(std::move(machine)), image_(image) {}

HybridProcess::~HybridProcess() = default;

Result<std::unique_ptr<HybridProcess>> HybridProcess::create(const PeImage& image, std::optional<uint64_t> base) {
  return create(image,
                [&image, base](Machine& machine) { return loadImage(machine, image, base, HybridImages::kAllowed); });
}

Result<std::unique_ptr<HybridProcess>> HybridProcess::create(const PeImage& image, const HybridLoader& load) {
  if (auto arm64ec = requireArm64ec(image); !arm64ec) return arm64ec.error();
  auto machine = Machine::create(*image.arch);
  if (!machine) return machine.error();
  std::unique_ptr<HybridProcess> process(new HybridProcess(std::move(machine).value(), image));
  if (auto prepared = process->prepare(load); !prepared) return prepared.error();
  return process;
}

Result<void> HybridProcess::registerImage(const PeImage& image, uint64_t base, std::vector<AddressRange>& arm64Pages,
                                          std::vector<AddressRange>& x64Pages) {
  // Whole pages per engine: each runs only its kind of code, by page permissions.
  for (const ChpeRange& r : image.chpe->codeMap) {
    const uint64_t begin = (base + r.begin) & ~(kPage - 1);
    const uint64_t end = (base + r.begin + r.length + kPage - 1) & ~(kPage - 1);
    (r.kind == ChpeRange::Kind::kAmd64 ? x64Pages : arm64Pages).push_back({begin, end});
  }
  for (const AddressRange& a : arm64Pages)
    for (const AddressRange& x : x64Pages)
      if (a.overlaps(x.begin, x.end))
        return badInput(fmt::format("{}: CHPE metadata.CodeMap: the page at 0x{:x} holds both x64 and Arm64 code; hph "
                                    "gives each engine whole pages",
                                    image.path, std::max(a.begin, x.begin) - base));
  for (size_t i = 0; i < kArm64xRoutines; ++i) {
    const auto routine = static_cast<Arm64xRoutine>(i);
    const uint32_t slot = slotRva(image.chpe->dispatch, routine);
    if (!slot) continue;
    const uint64_t address = routineAddress(routine);
    if (!machine_->writeGuest(base + slot, {reinterpret_cast<const uint8_t*>(&address), 8}))
      return internalError(fmt::format("{}: cannot fill the {} slot", image.path, routineName(routine)));
  }
  return {};
}

Result<void> HybridProcess::prepare(const HybridLoader& load) {
  auto loaded = load(*machine_);
  if (!loaded) return loaded.error();
  loaded_ = *loaded;
  auto routines = machine_->map(kRoutinePage, kPage, kRead, "arm64x routines");
  if (!routines) return routines.error();
  // Where an entry thunk returns to when its x64 caller jumped in without a return address
  // on top of the stack (see enterArm64): an x64 `ret`.
  auto stub = machine_->map(kX64ReturnStub, kPage, kRead | kExecute, "x64 return stub");
  if (!stub) return stub.error();
  const uint8_t ret[] = {0xC3};
  if (!machine_->writeCode(kX64ReturnStub, ret)) return internalError("cannot write the x64 return stub");
  if (auto registered = registerImage(image_, loaded_.base, arm64Pages_, x64Pages_); !registered) return registered;
  auto engine = arm64Arch().openEngine();
  if (!engine) return engine.error();
  arm64_ = std::move(engine).value();
  uc_hook hook;
  if (uc_hook_add(arm64_.get(), &hook,
                  UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED | UC_HOOK_MEM_FETCH_UNMAPPED |
                      UC_HOOK_MEM_READ_PROT | UC_HOOK_MEM_WRITE_PROT | UC_HOOK_MEM_FETCH_PROT,
                  reinterpret_cast<void*>(&onArm64Memory), this, 1, 0) ||
      uc_hook_add(arm64_.get(), &hook, UC_HOOK_INTR, reinterpret_cast<void*>(&onArm64Interrupt), this, 1, 0) ||
      // Counts against the budget, and keeps fault PCs exact (Unicorn 2.0.1, NOTES-deps).
      uc_hook_add(arm64_.get(), &hook, UC_HOOK_CODE, reinterpret_cast<void*>(&onArm64Code), this, 1, 0))
    return internalError("cannot install the Arm64 engine's hooks");
  if (auto mapped = mapNewRegions(); !mapped) return mapped;
  if (auto p = protect(machine_->engine().get(), arm64Pages_, UC_PROT_READ | UC_PROT_WRITE); !p) return p;
  if (auto p = protect(arm64_.get(), arm64Pages_, UC_PROT_ALL); !p) return p;
  arm64_.forgetCode(loaded_.base, loaded_.base + image_.sizeOfImage);
  return {};
}

Result<void> HybridProcess::addHybridImage(const PeImage& image, uint64_t base) {
  if (!image.chpe) return {};
  std::vector<AddressRange> arm64, x64;
  if (auto registered = registerImage(image, base, arm64, x64); !registered) return registered;
  if (auto mapped = mapNewRegions(); !mapped) return mapped;
  for (const AddressRange& a : arm64)
    if (inAny(x64Pages_, a.begin) || inAny(x64Pages_, a.end - 1))
      return badInput(fmt::format("{}: CHPE metadata.CodeMap: its Arm64 code shares pages with x64 code", image.path));
  if (auto p = protect(machine_->engine().get(), arm64, UC_PROT_READ | UC_PROT_WRITE); !p) return p;
  if (auto p = protect(arm64_.get(), arm64, UC_PROT_ALL); !p) return p;
  arm64Pages_.insert(arm64Pages_.end(), arm64.begin(), arm64.end());
  x64Pages_.insert(x64Pages_.end(), x64.begin(), x64.end());
  arm64_.forgetCode(base, base + image.sizeOfImage);
  return {};
}

Result<void> HybridProcess::addCodePages(AddressRange range, Caller kind) {
  if (auto mapped = mapNewRegions(); !mapped) return mapped;
  const AddressRange pages{range.begin & ~(kPage - 1), (range.end + kPage - 1) & ~(kPage - 1)};
  if (kind == Caller::kX64) {
    x64Pages_.push_back(pages);
    return {};
  }
  if (auto p = protect(machine_->engine().get(), {pages}, UC_PROT_READ | UC_PROT_WRITE); !p) return p;
  if (auto p = protect(arm64_.get(), {pages}, UC_PROT_ALL); !p) return p;
  arm64Pages_.push_back(pages);
  return {};
}

Result<void> HybridProcess::setProbes(std::vector<AddressRange> probes) {
  probes_ = std::move(probes);
  activeProbes_.clear();
  machine_->setObserver(probes_.empty() ? nullptr : &probeObserver_);
  return machine_->watchInstructions(probes_, false);
}

std::optional<size_t> HybridProcess::probeAt(uint64_t address) const {
  for (size_t i = 0; i < probes_.size(); ++i)
    if (probes_[i].contains(address) && (i >= activeProbes_.size() || activeProbes_[i])) return i;
  return std::nullopt;
}

bool HybridProcess::ProbeObserver::beforeInstruction(uint64_t pc, uint32_t) {
  process_.probeHit_ = process_.probeAt(pc);
  return process_.probeHit_.has_value();
}

bool HybridProcess::fastForwardsTo(uint64_t entry, uint64_t body) const {
  // Any RVA does: only the distance from the sequence to its jump's target matters.
  constexpr uint32_t kSomeRva = 0x4000'0000;
  uint8_t bytes[pe::kFastForwardBytes] = {};
  if (!machine_->readGuest(entry, bytes)) return false;
  const auto target = pe::fastForwardTarget(bytes, kSomeRva);
  return target && entry + (static_cast<int64_t>(*target) - kSomeRva) == body;
}

Landing HybridProcess::dispatchCallLanding(uint64_t x64Entry, uint64_t body) const {
  return fastForwardsTo(x64Entry, body) ? Landing{Caller::kArm64ec, body} : Landing{Caller::kX64, x64Entry};
}

Landing HybridProcess::icallLanding(uint64_t target) const {
  return isArm64Code(target) ? Landing{Caller::kArm64ec, target} : Landing{Caller::kX64, target};
}

Result<void> HybridProcess::mapIntoArm64(const Region& region) {
  // Nothing executable until prepare() opens the Arm64 code pages: x64 code, shims and the
  // sentinel stop this engine at their first instruction.
  const uint32_t permissions = region.permissions & (kRead | kWrite);
  if (uc_err err = uc_mem_map_ptr(arm64_.get(), region.base, region.size, permissions, region.bytes.get());
      err != UC_ERR_OK)
    return internalError(fmt::format("cannot map {} into the Arm64 engine: {}", region.name, ucErrorText(err)));
  return {};
}

Result<void> HybridProcess::mapNewRegions() {
  const auto& regions = machine_->memory().regions();
  for (; regionsMapped_ < regions.size(); ++regionsMapped_)
    if (auto mapped = mapIntoArm64(*regions[regionsMapped_]); !mapped) return mapped;
  return {};
}

bool HybridProcess::isArm64Code(uint64_t address) const { return inAny(arm64Pages_, address); }
bool HybridProcess::isX64Code(uint64_t address) const { return inAny(x64Pages_, address); }

bool HybridProcess::writeCode(uint64_t address, std::span<const uint8_t> bytes) {
  if (stale_ == StaleEngine::kX64) {
    if (!machine_->writeGuest(address, bytes)) return false;  // the x64 engine keeps its translations
  } else if (!machine_->writeCode(address, bytes)) {
    return false;
  }
  if (stale_ != StaleEngine::kArm64) arm64_.forgetCode(address, address + bytes.size());
  return true;
}

GuestFault HybridProcess::arm64Fault(FaultKind kind, uint64_t pc, uint64_t address, std::string detail) const {
  GuestFault fault{kind, pc, address, machine_->symbolize(pc), "", std::move(detail)};
  uint8_t bytes[4] = {};
  if (arm64_.read(pc, bytes)) fault.instruction = arm64Arch().decode(bytes, pc).text;
  return fault;
}

Result<HybridCallResult> HybridProcess::call(uint64_t entry, std::span<const uint64_t> args,
                                             const CallOptions& options) {
  return call(Caller::kX64, entry, args, options);
}

Result<HybridCallResult> HybridProcess::call(Caller caller, uint64_t entry, std::span<const uint64_t> args,
                                             const CallOptions& options) {
  if (auto mapped = mapNewRegions(); !mapped) return mapped.error();
  const Engine& x64 = machine_->engine();
  const uint64_t stackTop = options.stackTop.value_or(Machine::kStackBase + Machine::kStackBytes);
  if (caller == Caller::kX64) {
    const CallFrame frame{entry, args, stackTop, Machine::kReturnSentinel};
    if (auto prepared = machine_->arch().prepareCall(x64, frame); !prepared) return prepared.error();
  } else {
    // As an Arm64EC caller: arguments in x0-x7, the return address in x30.
    if (args.size() > 8)
      return badInput(fmt::format("an Arm64EC call passes at most 8 arguments, not {}", args.size()));
    if (!isArm64Code(entry))
      return badInput(fmt::format("0x{:x} is not Arm64 code: an Arm64EC caller reaches x64 code through the "
                                  "routines only",
                                  entry));
    for (size_t i = 0; i < args.size(); ++i) arm64_.setReg(UC_ARM64_REG_X0 + static_cast<int>(i), args[i]);
    arm64_.setReg(UC_ARM64_REG_SP, (stackTop - 64) & ~uint64_t{15});
    arm64_.setReg(UC_ARM64_REG_X30, Machine::kReturnSentinel);
    arm64_.setReg(UC_ARM64_REG_PC, entry);
  }
  machine_->setPrecisePc(options.precisePc);
  pendingReturns_.clear();
  probeHit_.reset();

  HybridCallResult result;
  uint64_t executed = 0, boundarySteps = 0;
  // An x64 caller reaching an Arm64EC entry faults and crosses at once.
  Side side = caller == Caller::kX64 ? Side::kX64 : Side::kArm64;
  const auto budgetLeft = [&] { return options.instructionBudget - std::min(executed, options.instructionBudget); };
  while (!result.call.fault && !result.call.timedOut) {
    // Control can bounce between routines and crossings without running an instruction (a
    // routine returning to its own address): they have a budget of their own, as large, so
    // such a guest is a runaway like any other, while instructions count only instructions.
    if (boundarySteps > options.instructionBudget) {
      result.call.fault = arm64Fault(FaultKind::kBudgetExhausted, lastArm64Pc_, 0,
                                     fmt::format("{} routine calls and engine crossings, and no end: the budget ran "
                                                 "out",
                                                 boundarySteps));
      break;
    }
    if (side == Side::kX64) {
      const RunStop stop = machine_->run(budgetLeft());
      executed += stop.instructions;
      if (stop.kind == StopKind::kReturned) {
        result.call.value = machine_->arch().returnValue(x64);
        break;
      }
      if (stop.kind == StopKind::kYielded && probeHit_) {
        result.probe = probeHit_;
        break;
      }
      if (stop.kind == StopKind::kError) return *stop.error;
      if (stop.kind == StopKind::kTimeout) {
        result.call.timedOut = true;
        break;
      }
      if (stop.kind != StopKind::kFault || !stop.fault)
        return internalError("a hybrid call's x64 engine stopped for a scheduler that is not there");
      // Fetching Arm64 code (its pages are not executable here; data accesses to them are).
      if (stop.fault->kind == FaultKind::kProtectionViolation && isArm64Code(stop.fault->address)) {
        result.call.fault = enterArm64(stop.fault->address);
        side = Side::kArm64;
        ++result.crossings;
        ++boundarySteps;
        continue;
      }
      result.call.fault = stop.fault;
      break;
    }
    const Arm64Stop stop = runArm64(budgetLeft());
    executed += stop.instructions;
    if (stop.kind == Arm64Stop::Kind::kProbe) {
      result.probe = probeHit_;
      result.probeOnArm64 = true;
      break;
    }
    if (stop.kind == Arm64Stop::Kind::kFetch && stop.address == Machine::kReturnSentinel &&
        caller == Caller::kArm64ec && pendingReturns_.empty()) {
      result.call.value = arm64_.reg(UC_ARM64_REG_X0);  // the Arm64EC caller's call returned
      break;
    }
    if (stop.kind != Arm64Stop::Kind::kFetch) {
      result.call.fault = stop.fault;
      break;
    }
    if (const auto routine = routineAt(stop.address)) {
      if (result.routines.size() < kRoutinesKept) result.routines.push_back(*routine);
      ++boundarySteps;
      const Side before = side;
      result.call.fault = runRoutine(*routine, side);
      if (side != before) ++result.crossings;
      continue;
    }
    // The branch that went there is the last Arm64 instruction that ran.
    const uint64_t target = stop.address;
    if (isX64Code(target))
      result.call.fault = arm64Fault(FaultKind::kProtectionViolation, lastArm64Pc_, target,
                                     "Arm64 code branched into x64 code without an exit thunk "
                                     "(__os_arm64x_dispatch_call_no_redirect)");
    else if (machine_->memory().find(target))
      result.call.fault = arm64Fault(FaultKind::kProtectionViolation, lastArm64Pc_, target,
                                     "Arm64 code branched to memory that holds no Arm64 code");
    else
      result.call.fault = arm64Fault(FaultKind::kUnmappedFetch, lastArm64Pc_, target, "");
  }
  result.call.instructions = executed;
  if (!result.call.fault && executed > options.instructionBudget)
    result.call.fault = GuestFault{FaultKind::kBudgetExhausted, 0, 0, "", "", "the instruction budget ran out"};
  return result;
}

std::optional<GuestFault> HybridProcess::enterArm64(uint64_t target) {
  const Engine& x64 = machine_->engine();
  const uint64_t rsp = x64.reg(UC_X86_REG_RSP);
  if (!pendingReturns_.empty() && pendingReturns_.back().address == target) {
    // x64 code returned into the exit thunk that called it.
    if (pendingReturns_.back().sp != rsp)
      return arm64Fault(FaultKind::kProtectionViolation, target, target,
                        fmt::format("x64 code returned to its Arm64 caller with rsp 0x{:x}, not 0x{:x}", rsp,
                                    pendingReturns_.back().sp));
    pendingReturns_.pop_back();
    copyX64ToArm64(x64, arm64_);
    arm64_.setReg(UC_ARM64_REG_PC, target);
    return std::nullopt;
  }
  // A call (or jump) into Arm64EC code: through the function's entry thunk, which calls x9
  // and returns to the x64 caller through dispatch_ret.
  uint32_t word = 0;
  if (!machine_->readGuest(target - 4, {reinterpret_cast<uint8_t*>(&word), 4}) || !(word & 1))
    return arm64Fault(
        FaultKind::kProtectionViolation, target, target,
        fmt::format("x64 code entered Arm64 code that has no entry thunk (the word at -4 is 0x{:x})", word));
  const uint64_t thunk = target + static_cast<int64_t>(static_cast<int32_t>(word & ~1u));
  if (!isArm64Code(thunk))
    return arm64Fault(FaultKind::kProtectionViolation, target, thunk,
                      fmt::format("the entry-thunk word at -4 (0x{:x}) names 0x{:x}, not Arm64 code", word, thunk));
  // As Windows' emulator enters an entry thunk (Wine and FEX do the same): the x64
  // return address popped into x30, so sp is 16-byte aligned as Arm64 code needs it, and
  // x4 = sp, where variadic thunks find the x64 stack arguments (above the 32-byte home
  // area). dispatch_ret returns to x30. x64 code that jumped in with no return address on
  // top (sp 16-byte aligned) gets one that pops the real one: a `ret` stub.
  uint64_t sp = rsp, returnAddress = kX64ReturnStub;
  if (rsp % 16 == 8) {
    if (!machine_->readGuest(rsp, {reinterpret_cast<uint8_t*>(&returnAddress), 8}))
      return arm64Fault(FaultKind::kUnmappedRead, target, rsp, "entering Arm64 code: no x64 return address at rsp");
    sp = rsp + 8;
  }
  copyX64ToArm64(x64, arm64_);
  arm64_.setReg(UC_ARM64_REG_SP, sp);
  arm64_.setReg(UC_ARM64_REG_X4, sp);
  arm64_.setReg(UC_ARM64_REG_X30, returnAddress);
  arm64_.setReg(UC_ARM64_REG_X9, target);
  arm64_.setReg(UC_ARM64_REG_PC, thunk);
  return std::nullopt;
}

std::optional<GuestFault> HybridProcess::runRoutine(Arm64xRoutine routine, Side& side) {
  const Engine& x64 = machine_->engine();
  const auto returnToCaller = [&] { arm64_.setReg(UC_ARM64_REG_PC, arm64_.reg(UC_ARM64_REG_X30)); };
  // The checks' answer for x64 code: the caller branches to the exit thunk (x10), which
  // calls x9 through dispatch_call_no_redirect.
  const auto callThroughExitThunk = [&](uint64_t x64Target) {
    arm64_.setReg(UC_ARM64_REG_X9, x64Target);
    arm64_.setReg(UC_ARM64_REG_X11, arm64_.reg(UC_ARM64_REG_X10));
  };
  switch (routine) {
  case Arm64xRoutine::kDispatchRet:
    // The entry thunk is done: rax (x8) holds the result, sp is the x64 caller's stack
    // after its return address, and x30 that address (enterArm64).
    copyArm64ToX64(arm64_, x64);
    x64.setReg(UC_X86_REG_RIP, arm64_.reg(UC_ARM64_REG_X30));
    side = Side::kX64;
    return std::nullopt;
  // The control-flow-guard variant checks the target against the CFG bitmap first, which
  // hph does not model: it dispatches as dispatch_icall does.
  case Arm64xRoutine::kDispatchIcallCfg:
  case Arm64xRoutine::kDispatchIcall: {
    // x11: the target; x10: the exit thunk to reach it through if it is x64 code.
    const Landing landing = icallLanding(arm64_.reg(UC_ARM64_REG_X11));
    if (landing.runsAs == Caller::kX64) callThroughExitThunk(landing.address);
    returnToCaller();
    return std::nullopt;
  }
  case Arm64xRoutine::kDispatchCall: {
    // A hybrid-patchable callee: x11 its x64 entry, x9 its Arm64EC body, x10 the exit
    // thunk. While the x64 entry is the unpatched fast-forward sequence to that body, the
    // call goes to the body; once it is patched, to the x64 code there.
    const Landing landing = dispatchCallLanding(arm64_.reg(UC_ARM64_REG_X11), arm64_.reg(UC_ARM64_REG_X9));
    if (landing.runsAs == Caller::kArm64ec)
      arm64_.setReg(UC_ARM64_REG_X11, landing.address);
    else
      callThroughExitThunk(landing.address);
    returnToCaller();
    return std::nullopt;
  }
  case Arm64xRoutine::kDispatchCallNoRedirect: {
    // An exit thunk calls x64 code at x9 as an x64 caller would: the return address (x30,
    // in the thunk) pushed on the stack.
    const uint64_t target = arm64_.reg(UC_ARM64_REG_X9);
    const uint64_t ret = arm64_.reg(UC_ARM64_REG_X30);
    const uint64_t sp = arm64_.reg(UC_ARM64_REG_SP);
    copyArm64ToX64(arm64_, x64);
    if (!machine_->writeGuest(sp - 8, {reinterpret_cast<const uint8_t*>(&ret), 8}))
      return arm64Fault(FaultKind::kUnmappedWrite, lastArm64Pc_, sp - 8,
                        "dispatch_call_no_redirect: cannot push the return address");
    x64.setReg(UC_X86_REG_RSP, sp - 8);
    x64.setReg(UC_X86_REG_RIP, target);
    pendingReturns_.push_back({ret, sp});
    side = Side::kX64;
    return std::nullopt;
  }
  case Arm64xRoutine::kDispatchFptr:
  case Arm64xRoutine::kGetX64Information:
  case Arm64xRoutine::kSetX64Information: break;
  }
  // Reported at the call that reached it (the last Arm64 instruction that ran).
  return arm64Fault(FaultKind::kException, lastArm64Pc_, routineAddress(routine),
                    fmt::format("{}: hph does not implement this routine", routineName(routine)));
}

HybridProcess::Arm64Stop HybridProcess::runArm64(uint64_t budget) {
  arm64Memory_.reset();
  arm64Interrupt_.reset();
  arm64Executed_ = 0;
  arm64Budget_ = budget;
  lastArm64Pc_ = arm64_.reg(UC_ARM64_REG_PC);
  const Result<uc_err> started = arm64_.start(lastArm64Pc_, std::nullopt);
  if (!started) {
    Arm64Stop failed;
    failed.fault = arm64Fault(FaultKind::kException, lastArm64Pc_, 0, started.error().message);
    return failed;
  }
  const uc_err err = *started;
  Arm64Stop stop;
  stop.instructions = std::min(arm64Executed_, budget);
  const uint64_t pc = arm64_.reg(UC_ARM64_REG_PC);
  if (probeHit_) {
    stop.kind = Arm64Stop::Kind::kProbe;
    return stop;
  }
  if (arm64Executed_ > budget) {
    stop.kind = Arm64Stop::Kind::kBudget;
    stop.fault = arm64Fault(FaultKind::kBudgetExhausted, pc, 0, "the instruction budget ran out");
    return stop;
  }
  if (arm64Memory_) {
    const auto [type, address] = *arm64Memory_;
    if (type == UC_MEM_FETCH_PROT || type == UC_MEM_FETCH_UNMAPPED) {
      stop.kind = Arm64Stop::Kind::kFetch;
      stop.address = address;
      return stop;
    }
    FaultKind kind = FaultKind::kProtectionViolation;
    if (type == UC_MEM_READ_UNMAPPED) kind = FaultKind::kUnmappedRead;
    if (type == UC_MEM_WRITE_UNMAPPED) kind = FaultKind::kUnmappedWrite;
    stop.fault = arm64Fault(kind, pc, address, "");
    return stop;
  }
  if (arm64Interrupt_) {
    const bool undefined = *arm64Interrupt_ == arm64Arch().facts().undefinedInstructionInterrupt;
    stop.fault = arm64Fault(undefined ? FaultKind::kInvalidInstruction : FaultKind::kException, pc, 0,
                            arm64Arch().describeInterrupt(*arm64Interrupt_));
    return stop;
  }
  if (arm64_.untranslatableAt(pc)) {
    stop.fault = arm64Fault(FaultKind::kInvalidInstruction, pc, 0,
                            "an unallocated encoding Unicorn 2.0.1 cannot translate (hph stops before it)");
    return stop;
  }
  stop.fault = arm64Fault(err == UC_ERR_INSN_INVALID ? FaultKind::kInvalidInstruction : FaultKind::kException, pc, 0,
                          err == UC_ERR_OK ? "the Arm64 engine stopped for no reason" : ucErrorText(err));
  return stop;
}

bool HybridProcess::onArm64Memory(uc_engine*, uc_mem_type type, uint64_t address, int, int64_t, void* user) {
  static_cast<HybridProcess*>(user)->arm64Memory_ = std::make_pair(type, address);
  return false;
}

void HybridProcess::onArm64Interrupt(uc_engine* uc, uint32_t number, void* user) {
  static_cast<HybridProcess*>(user)->arm64Interrupt_ = number;
  uc_emu_stop(uc);
}

void HybridProcess::onArm64Code(uc_engine* uc, uint64_t address, uint32_t, void* user) {
  auto* self = static_cast<HybridProcess*>(user);
  if (!self->probes_.empty() && (self->probeHit_ = self->probeAt(address))) {
    uc_emu_stop(uc);  // before it runs: Unicorn checks the stop request ahead of the instruction
    return;
  }
  self->lastArm64Pc_ = address;
  if (++self->arm64Executed_ > self->arm64Budget_) uc_emu_stop(uc);
}

}  // namespace hph::hybrid
