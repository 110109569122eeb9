#include "properties/ReferenceMachine.h"

#include <algorithm>

namespace hph {

Result<std::unique_ptr<ReferenceMachine>> ReferenceMachine::create(const PeImage& base, const PatchLayout& layout,
                                                                   uint64_t threadBudget) {
  std::unique_ptr<ReferenceMachine> r(new ReferenceMachine());
  for (const PatchSite& site : layout.sites) r->entries_.emplace_back(site.entry, site.replacement);
  r->threadBudget_ = threadBudget;
  auto machine = Machine::create(*base.arch);
  if (!machine) return machine.error();
  r->machine_ = std::move(machine).value();
  if (auto loaded = loadPatchedImages(*r->machine_, base, layout); !loaded) return loaded.error();
  r->initial_ = r->machine_->snapshot();
  return r;
}

std::optional<std::pair<uint64_t, uint64_t>> ReferenceMachine::results(size_t site, const std::vector<uint64_t>& args) {
  const auto key = std::make_pair(site, args);
  if (const auto it = memo_.find(key); it != memo_.end()) return it->second;
  const auto [oldEntry, newEntry] = entries_[site];
  std::optional<std::pair<uint64_t, uint64_t>> out;
  uint64_t values[2] = {};
  bool ok = true;
  for (int version = 0; version < 2 && ok; ++version) {
    // Each from the images as loaded, unpatched: the old entry runs the old function.
    machine_->restore(initial_);
    auto call = machine_->call(version == 0 ? oldEntry : newEntry, args,
                               CallOptions{.instructionBudget = threadBudget_, .precisePc = false});
    ok = call && call->completed();
    if (ok) values[version] = call->value;
  }
  if (ok) out = std::make_pair(values[0], values[1]);
  memo_[key] = out;
  return out;
}

std::vector<uint64_t> directCallReturnSites(const PeImage& image, uint64_t entry) {
  std::vector<uint64_t> sites;
  for (const FunctionInfo& f : image.functions) {
    const std::vector<uint8_t> code = image.bytesAt(f.begin, f.end - f.begin);
    for (size_t offset = 0; offset < code.size();) {
      const uint64_t pc = image.imageBase + f.begin + offset;
      const DecodedInstruction insn =
          image.arch->decode(std::span(code).subspan(offset, std::min<size_t>(16, code.size() - offset)), pc);
      if (!insn.valid) break;
      if (insn.flow == Flow::kCall && insn.target == entry) sites.push_back(pc + insn.length);
      offset += insn.length;
    }
  }
  return sites;
}

}  // namespace hph
