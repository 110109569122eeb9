#include "properties/HybridStoreChecks.h"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

#include "emu/pe/ChpeMetadata.h"
#include "support/FileName.h"

namespace hph {
namespace {

struct CodeImage {
  const PeImage* image;
  uint64_t base;
};

std::string_view kindName(ChpeRange::Kind kind) {
  switch (kind) {
  case ChpeRange::Kind::kArm64: return "Arm64";
  case ChpeRange::Kind::kArm64ec: return "Arm64EC";
  case ChpeRange::Kind::kAmd64: return "x64";
  }
  return "?";
}

void checkKinds(const StoreStep& store, ArchKind planArch, const CodeImage& code, std::vector<HybridFinding>& out) {
  const uint64_t begin = store.address, end = store.address + store.bytes.size();
  for (const ChpeRange& r : code.image->chpe->codeMap) {
    const uint64_t rb = code.base + r.begin, re = rb + r.length;
    if (end <= rb || re <= begin) continue;
    const bool x64Range = r.kind == ChpeRange::Kind::kAmd64;
    if (x64Range == (planArch == ArchKind::kX64)) continue;
    out.push_back({Property::kH3, fmt::format("the store of {} bytes of {} code at {} (0x{:x}) lands in the {} code "
                                              "range [0x{:x}, 0x{:x}) of {}: that engine runs them as its own "
                                              "instructions",
                                              store.bytes.size(), archOf(planArch).name(), store.label, begin,
                                              kindName(r.kind), rb, re, fileNameOf(code.image->path))});
  }
}

void checkEntries(const StoreStep& store, const PeImage& base, const PatchLayout& layout,
                  std::vector<HybridFinding>& out) {
  const uint64_t begin = store.address, end = store.address + store.bytes.size();
  const auto patchedHere = [&](uint64_t entry) {
    for (const PatchSite& s : layout.sites)
      if (s.entry == entry) return true;
    return false;
  };
  // Functions no export names (their address taken, a thunk word before them) by RVA.
  for (const auto& [body, thunk] : base.chpe->entryThunkWords) {
    const uint64_t word = base.imageBase + body - 4;
    const bool exported = std::any_of(base.chpe->functions.begin(), base.chpe->functions.end(),
                                      [&](const HybridFunction& f) { return f.body == body; });
    if (!exported && begin < word + 4 && word < end)
      out.push_back({Property::kH2, fmt::format("the store of {} bytes at {} (0x{:x}) overwrites the entry-thunk word "
                                                "at body-4 (0x{:x}) of the Arm64EC function at rva 0x{:x}, through "
                                                "which x64 callers given its address enter it",
                                                store.bytes.size(), store.label, begin, word, body)});
  }
  for (const HybridFunction& f : base.chpe->functions) {
    const uint64_t word = base.imageBase + f.body - 4;
    if (begin < word + 4 && word < end)
      out.push_back({Property::kH2, fmt::format("the store of {} bytes at {} (0x{:x}) overwrites {}'s entry-thunk word "
                                                "at body-4 (0x{:x}), through which x64 callers enter it",
                                                store.bytes.size(), store.label, begin, f.name, word)});
    const uint64_t sequence = base.imageBase + f.fastForward;
    if (f.fastForward && begin < sequence + pe::kFastForwardBytes && sequence < end && !patchedHere(sequence))
      out.push_back({Property::kH2, fmt::format("the store of {} bytes at {} (0x{:x}) overwrites {}'s fast-forward "
                                                "sequence at 0x{:x}, which the plan does not patch",
                                                store.bytes.size(), store.label, begin, f.name, sequence)});
  }
}

}  // namespace

std::vector<HybridFinding> checkHybridStores(const Plan& plan, ArchKind planArch, const PeImage& base,
                                             const PatchLayout& layout) {
  std::vector<HybridFinding> out;
  std::vector<CodeImage> images{{&base, base.imageBase}};
  for (const PatchImage& p : layout.patches)
    if (p.image->chpe) images.push_back({p.image.get(), p.loadAddress});
  for (const Step& step : plan.steps) {
    const auto* store = std::get_if<StoreStep>(&step);
    if (!store || store->data) continue;
    for (const CodeImage& image : images) checkKinds(*store, planArch, image, out);
    if (base.chpe) checkEntries(*store, base, layout, out);
  }
  return out;
}

}  // namespace hph
