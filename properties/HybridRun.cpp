#include "properties/HybridRun.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <variant>

#include "emu/pe/ChpeMetadata.h"

namespace hph {
namespace {

using hybrid::Caller;
using hybrid::HybridProcess;

constexpr uint64_t kPathBudget = 1'000'000;  // instructions per path call: more is a runaway

// Per site, the paths to call; and the probes: the replacement's first byte (new) and
// the old body's bytes no store of the plan replaces (old).
struct RunShape {
  std::vector<std::vector<EntryPath>> paths;  // per site
  std::vector<AddressRange> probes;
  struct ProbeOwner {
    size_t site = 0;
    bool isNew = false;
    // The whole body, for a plan that stores over all of it: it is the old code only while
    // memory holds the original bytes there (before the plan, after its unpatch).
    bool whileOriginal = false;
  };
  std::vector<ProbeOwner> owners;              // per probe
  std::vector<std::vector<uint8_t>> original;  // per probe: its bytes before the plan (whileOriginal only)
};

std::vector<std::pair<uint64_t, uint64_t>> storedRanges(const Plan& plan) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const Step& step : plan.steps)
    if (const auto* s = std::get_if<StoreStep>(&step); s && !s->data)
      out.emplace_back(s->address, s->address + s->bytes.size());
  return out;
}

// [begin, end) less the stored ranges.
std::vector<AddressRange> unstoredPieces(uint64_t begin, uint64_t end,
                                         const std::vector<std::pair<uint64_t, uint64_t>>& stored) {
  std::vector<AddressRange> pieces{{begin, end}};
  for (const auto& [sb, se] : stored) {
    std::vector<AddressRange> next;
    for (const AddressRange& p : pieces) {
      if (se <= p.begin || p.end <= sb) {
        next.push_back(p);
        continue;
      }
      if (p.begin < sb) next.push_back({p.begin, sb});
      if (se < p.end) next.push_back({se, p.end});
    }
    pieces = std::move(next);
  }
  return pieces;
}

// The replacement's code: its Arm64EC body or x64 entry in its patch image, else one byte.
AddressRange replacementExtent(const PatchLayout& layout, uint64_t replacement) {
  for (const PatchImage& p : layout.patches) {
    if (!p.image->chpe || replacement < p.loadAddress) continue;
    const uint64_t rva = replacement - p.loadAddress;
    for (const HybridFunction& f : p.image->chpe->functions) {
      if (rva == f.body) return {replacement, replacement + (f.bodyEnd - f.body)};
      if (rva == f.fastForward) return {replacement, replacement + pe::kFastForwardBytes};
    }
  }
  return {replacement, replacement + 1};
}

Result<RunShape> shapeOf(const HybridRunSetup& setup) {
  const PeImage& base = *setup.base;
  RunShape shape;
  const auto stored = storedRanges(*setup.plan);
  for (size_t i = 0; i < setup.layout->sites.size(); ++i) {
    const PatchSite& site = setup.layout->sites[i];
    const auto f = std::find_if(base.chpe->functions.begin(), base.chpe->functions.end(),
                                [&](const HybridFunction& h) { return h.name == site.name; });
    if (f == base.chpe->functions.end())
      return internalError(fmt::format("site '{}' is no Arm64EC function of {}", site.name, base.path));
    std::vector<EntryPath> paths = entryPaths(base, base.imageBase, *f);
    if (i < setup.declaredCallers.size())
      for (const NamedEntry& caller : setup.declaredCallers[i]) {
        EntryPath p;
        p.kind = EntryPathKind::kDeclaredCaller;
        p.name = fmt::format("declared caller {} ([[functions]].callers)", caller.name);
        p.x64Entry = base.imageBase + f->fastForward;
        p.body = base.imageBase + f->body;
        p.callerEntry = caller.entry;
        paths.push_back(std::move(p));
      }
    shape.paths.push_back(std::move(paths));
    shape.probes.push_back(replacementExtent(*setup.layout, site.replacement));
    shape.owners.push_back({i, true});
    const uint64_t body = base.imageBase + f->body, bodyEnd = base.imageBase + f->bodyEnd;
    std::vector<AddressRange> old = unstoredPieces(body, bodyEnd, stored);
    // A plan storing over the whole body leaves no old byte to recognise it by; after an
    // unpatch the body is the original again, and reaching it is reaching the old code.
    const bool wholeBody = old.empty() && setup.reverse;
    if (wholeBody) old.push_back({body, bodyEnd});
    for (const AddressRange& piece : old) {
      shape.probes.push_back(piece);
      shape.owners.push_back({i, false, wholeBody});
    }
  }
  return shape;
}

Result<std::unique_ptr<HybridProcess>> openProcess(const HybridRunSetup& setup, const RunShape& shape,
                                                   hybrid::StaleEngine stale) {
  const PeImage& base = *setup.base;
  const PatchLayout& layout = *setup.layout;
  auto process = HybridProcess::create(
      base, [&](Machine& machine) { return loadPatchedImages(machine, base, layout, HybridImages::kAllowed); });
  if (!process) return process.error();
  HybridProcess& p = **process;
  for (const PatchImage& patch : layout.patches)
    if (auto added = p.addHybridImage(*patch.image, patch.loadAddress); !added) return added.error();
  if (!layout.patches.empty())
    if (auto added = p.addCodePages({layout.scratchBase, layout.scratchBase + kHotpatchAreaBytes},
                                    setup.planArch == ArchKind::kX64 ? Caller::kX64 : Caller::kArm64ec);
        !added)
      return added.error();
  if (auto probed = p.setProbes(shape.probes); !probed) return probed.error();
  p.breakInvalidation(stale);
  return process;
}

// Every region `to` shares with `from` (the same base and size: both processes load the
// same images in the same order) gets `from`'s bytes, behind the engines' backs: `to` has
// run nothing, so no translation of it is stale.
void copyMemory(const Machine& from, Machine& to) {
  for (const auto& source : from.memory().regions())
    for (const auto& target : to.memory().regions())
      if (target->base == source->base && target->size == source->size)
        std::memcpy(target->bytes.get(), source->bytes.get(), source->size);
}

bool apply(HybridProcess& process, const StoreStep& store) {
  return store.data ? process.machine().writeGuest(store.address, store.bytes)
                    : process.writeCode(store.address, store.bytes);
}

Result<PathOutcome> callPath(HybridProcess& process, const RunShape& shape, size_t site, const EntryPath& path,
                             const std::vector<uint64_t>& args) {
  std::vector<bool> active(shape.probes.size());
  for (size_t i = 0; i < active.size(); ++i) {
    active[i] = shape.owners[i].site == site;
    if (active[i] && shape.owners[i].whileOriginal) {
      std::vector<uint8_t> now(shape.original[i].size());
      active[i] = process.machine().readGuest(shape.probes[i].begin, now) && now == shape.original[i];
    }
  }
  process.activateProbes(std::move(active));
  const hybrid::Landing landing = landingOf(path, process);
  auto called = process.call(landing.runsAs, landing.address, args, CallOptions{.instructionBudget = kPathBudget});
  if (!called) return called.error();
  PathOutcome out{site, path};
  out.onArm64 = called->probeOnArm64;
  if (called->probe)
    out.reach = shape.owners[*called->probe].isNew ? PathReach::kNew : PathReach::kOld;
  else if (called->call.fault)
    out.reach = PathReach::kFault, out.detail = called->call.fault->describe();
  return out;
}

Result<std::vector<PathOutcome>> callAll(HybridProcess& process, const RunShape& shape,
                                         const std::vector<uint64_t>& args, uint64_t& calls) {
  std::vector<PathOutcome> out;
  for (size_t site = 0; site < shape.paths.size(); ++site)
    for (const EntryPath& path : shape.paths[site]) {
      auto outcome = callPath(process, shape, site, path, args);
      if (!outcome) return outcome.error();
      ++calls;
      out.push_back(std::move(outcome).value());
    }
  return out;
}

std::string reachText(const PathOutcome& o) {
  switch (o.reach) {
  case PathReach::kNew: return fmt::format("the replacement (on the {} engine)", o.onArm64 ? "Arm64" : "x64");
  case PathReach::kOld: return fmt::format("the old body (on the {} engine)", o.onArm64 ? "Arm64" : "x64");
  case PathReach::kNeither: return "neither the replacement nor the old body";
  case PathReach::kFault: return "a fault: " + o.detail;
  }
  return "";
}

// Applies one store to the live process, then calls every path there and in a fresh process
// holding the same memory (H4); the live outcomes.
Result<std::vector<PathOutcome>> storeAndCompare(const HybridRunSetup& setup, const RunShape& shape,
                                                 HybridProcess& live, const StoreStep& store, HybridRunResult& result) {
  if (!apply(live, store))
    return internalError(fmt::format("cannot store {} bytes at 0x{:x}", store.bytes.size(), store.address));
  ++result.stores;
  // A fresh process holding the live one's memory (the stores so far, and what the calls
  // wrote), whose engines never translated anything.
  auto fresh = openProcess(setup, shape, hybrid::StaleEngine::kNone);
  if (!fresh) return fresh.error();
  copyMemory(live.machine(), (*fresh)->machine());
  auto seen = callAll(live, shape, setup.args, result.calls);
  if (!seen) return seen.error();
  auto reference = callAll(**fresh, shape, setup.args, result.calls);
  if (!reference) return reference.error();
  for (size_t i = 0; i < seen->size(); ++i) {
    const PathOutcome &a = (*seen)[i], &b = (*reference)[i];
    if (a.reach == b.reach && a.onArm64 == b.onArm64) continue;
    result.findings.push_back(
        {Property::kH4,
         fmt::format("after the store of {} bytes at {} (0x{:x}), {} of {} reached {}, but {} in a fresh process "
                     "holding the same memory: the {} engine ran a translation of the bytes the store replaced",
                     store.bytes.size(), store.label, store.address, a.path.name, setup.layout->sites[a.site].name,
                     reachText(a), reachText(b), live.isArm64Code(store.address) ? "Arm64" : "x64")});
    break;  // one finding per store: the first path that shows it
  }
  return seen;
}

// H1: every path in `outcomes` reached what `expected` says of it.
void judgeH1(const HybridRunSetup& setup, HybridRunResult& result, const std::vector<PathOutcome>& outcomes,
             const std::function<PathReach(size_t)>& expected, std::string_view when) {
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const PathOutcome& o = outcomes[i];
    if (o.reach == expected(i)) continue;
    const std::string callers = o.path.callers.empty() ? "" : fmt::format(" (taken by {})", o.path.callers);
    // A path that reached neither before the plan either never calls the function: its
    // code has a copy of its own (inlined), or these arguments take another way.
    const bool neverCalled =
        o.reach == PathReach::kNeither && i < result.before.size() && result.before[i].reach == PathReach::kNeither;
    result.findings.push_back(
        {Property::kH1, fmt::format("{}, the {}{} to {} reaches {}{}", when, o.path.name, callers,
                                    setup.layout->sites[o.site].name, reachText(o),
                                    neverCalled ? ", and did not reach the old body before the plan either: it has "
                                                  "its own copy of the function's code (inlined), or these arguments "
                                                  "([chpe] call_args) do not call it"
                                                : "")});
  }
}

}  // namespace

std::string_view pathReachName(PathReach reach) {
  switch (reach) {
  case PathReach::kNew: return "new";
  case PathReach::kOld: return "old";
  case PathReach::kNeither: return "neither";
  case PathReach::kFault: return "fault";
  }
  return "";
}

Result<HybridRunResult> runHybridPlan(const HybridRunSetup& setup) {
  auto shape = shapeOf(setup);
  if (!shape) return shape.error();
  auto live = openProcess(setup, *shape, setup.stale);
  if (!live) return live.error();
  shape->original.resize(shape->probes.size());
  for (size_t i = 0; i < shape->probes.size(); ++i)
    if (shape->owners[i].whileOriginal) {
      shape->original[i].resize(shape->probes[i].end - shape->probes[i].begin);
      if (!(*live)->machine().readGuest(shape->probes[i].begin, shape->original[i]))
        return internalError(fmt::format("cannot read the body at 0x{:x}", shape->probes[i].begin));
    }
  HybridRunResult result;
  // Before the plan: every path runs (and both engines translate what it runs).
  auto before = callAll(**live, *shape, setup.args, result.calls);
  if (!before) return before.error();
  result.before = std::move(before).value();

  result.after = result.before;
  for (size_t index = 0; index < setup.plan->steps.size(); ++index) {
    // One thread: waits, suspensions and cache maintenance have no one to act on.
    if (const auto* store = std::get_if<StoreStep>(&setup.plan->steps[index])) {
      auto seen = storeAndCompare(setup, *shape, **live, *store, result);
      if (!seen) return seen.error();
      // After the last store, memory is what the plan leaves: the state H1 judges.
      result.after = std::move(seen).value();
    }
    if (setup.reverse && index + 1 == setup.patchSteps) result.patched = result.after;
  }
  if (setup.reverse) {
    const auto newCode = [](size_t) { return PathReach::kNew; };
    judgeH1(setup, result, result.patched, newCode, "after the patch (before its unpatch)");
    // The unpatch restores the original: each path does again what it did before the plan
    // (a path that reached neither then, a tail call away, say, reaches neither again).
    judgeH1(
        setup, result, result.after, [&](size_t i) { return result.before[i].reach; },
        "after the plan (patch and unpatch)");
  } else {
    judgeH1(setup, result, result.after, [](size_t) { return PathReach::kNew; }, "after the plan");
  }
  return result;
}

}  // namespace hph
