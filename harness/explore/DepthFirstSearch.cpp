#include "harness/explore/DepthFirstSearch.h"

#include <algorithm>

namespace hph {
namespace {

template <class Entries> bool containsActor(const Entries& entries, ActorId actor) {
  return std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return e.first == actor; });
}

// Enough for the longest suffix a run appends; more would only hold memory.
constexpr size_t kSpareFootprints = 4096;

}  // namespace

bool SearchNode::asleep(ActorId actor) const { return containsActor(sleep, actor); }
bool SearchNode::explored(ActorId actor) const { return containsActor(done, actor); }

DepthFirstSearch::DepthFirstSearch(std::vector<SearchNode> prefix, uint32_t preemptionBound, Reduction reduction,
                                   uint32_t codeGranule)
    : path_(std::move(prefix)), fixed_(path_.size()), replay_(path_.size()), bound_(preemptionBound),
      sleepSets_(reduction == Reduction::kSleepSets), dpor_(reduction == Reduction::kDpor),
      happensBefore_(codeGranule) {}

ActorId DepthFirstSearch::choose(const SchedulingPoint& point) {
  const size_t i = point.index;
  if (i < replay_) {
    const SearchNode& node = path_[i];
    if (node.current != point.current ||
        !std::equal(node.enabled.begin(), node.enabled.end(), point.enabled.begin(), point.enabled.end())) {
      diverged_ = true;
      return kAbandon;
    }
    lastNode_ = i;
    return node.chosen;
  }
  SearchNode node;
  if (!spareNodes_.empty()) {
    node = std::move(spareNodes_.back());
    spareNodes_.pop_back();
  }
  node.enabled.assign(point.enabled.begin(), point.enabled.end());
  node.current = point.current;
  node.currentEnabled = point.currentEnabled;
  node.kind = point.kind;
  node.preemptionsBefore = 0;
  if (i > 0) {
    const SearchNode& parent = path_[i - 1];
    node.preemptionsBefore = parent.preemptionsBefore + parent.cost(parent.chosen);
  }
  // A fetch node's choices are versions, not actors: no sleep set holds them.
  if (sleepSets_ && node.kind != PointKind::kFetch) node.sleep = std::move(pendingSleep_);
  pendingSleep_.clear();
  // The default choice first, so the first run of every subtree is its cheapest.
  const ActorId first = defaultChoice(point);
  for (size_t k = 0; k <= point.enabled.size(); ++k) {
    const ActorId a = k == 0 ? first : point.enabled[k - 1];
    if (k > 0 && a == first) continue;
    if (node.asleep(a) || node.preemptionsBefore + node.cost(a) > bound_) continue;
    node.chosen = a;
    // A fetch version is not an actor whose order races decide: try every one.
    if (dpor_) {
      if (node.kind == PointKind::kFetch)
        node.backtrack = node.enabled;
      else
        node.backtrack.assign(1, a);
    }
    path_.push_back(std::move(node));
    lastNode_ = i;
    return a;
  }
  return kAbandon;  // every choice is asleep or over the bound: a redundant run
}

void DepthFirstSearch::transitionDone(Footprint& transition) {
  if (lastNode_ >= path_.size()) return;
  SearchNode& node = path_[lastNode_];
  const Footprint* kept = &transition;
  if (!node.explored(node.chosen)) {
    Footprint empty;
    if (!spare_.empty()) {
      empty = std::move(spare_.back());
      spare_.pop_back();
    }
    std::swap(empty, transition);
    node.done.emplace_back(node.chosen, std::move(empty));
    kept = &node.done.back().second;
  }
  const Footprint& footprint = *kept;
  pendingSleep_.clear();
  // Past a fetch choice nothing sleeps: its explored entries are versions, and what slept
  // before it is not carried through (sleep sets do not reason about versions).
  if (!sleepSets_ || node.kind == PointKind::kFetch) return;
  // What slept here, or was explored here before, sleeps on unless this transition
  // conflicts with it.
  for (const auto* entries : {&node.sleep, &node.done})
    for (const auto& [actor, fp] : *entries)
      if (actor != node.chosen && !fp.conflictsWith(footprint) && !containsActor(pendingSleep_, actor))
        pendingSleep_.emplace_back(actor, fp);
}

bool DepthFirstSearch::hasUntried(const SearchNode& node) const {
  for (ActorId a : node.enabled) {
    if (a == node.chosen || node.explored(a) || node.asleep(a) || node.preemptionsBefore + node.cost(a) > bound_)
      continue;
    if (dpor_ && std::find(node.backtrack.begin(), node.backtrack.end(), a) == node.backtrack.end()) continue;
    return true;
  }
  return false;
}

uint64_t DepthFirstSearch::checkpointSpacing(uint64_t index) const {
  // The explorer branches off every node of the first run: keep a checkpoint now and then.
  constexpr uint64_t kAlongThePrefix = 32;
  if (index < fixed_) return kAlongThePrefix;
  // A node with alternatives left is where later runs resume: exactly there.
  if (index < replay_ && hasUntried(path_[index])) return 1;
  return 0;
}

std::span<const ActorId> DepthFirstSearch::plannedChoices() {
  planned_.clear();
  for (size_t i = 0; i < replay_; ++i) planned_.push_back(path_[i].chosen);
  return planned_;
}

const Footprint* DepthFirstSearch::footprintAt(size_t node) const {
  for (const auto& [actor, fp] : path_[node].done)
    if (actor == path_[node].chosen) return &fp;
  return nullptr;
}

ActorId DepthFirstSearch::actorAt(size_t node) const {
  // A fetch node's choice is a version; the transition is the running thread's.
  while (path_[node].kind == PointKind::kFetch) {
    if (const Footprint* fp = footprintAt(node); fp && fp->actor != kNoActor) return fp->actor;
    if (node == 0) return kNoActor;
    --node;
  }
  return path_[node].chosen;
}

void DepthFirstSearch::tryAt(size_t node, ActorId actor) {
  while (node > 0 && path_[node].kind == PointKind::kFetch) --node;  // the actor node it hangs off
  SearchNode& n = path_[node];
  // The fixed prefix is not this search's to backtrack: the explorer is asked instead.
  auto add = [&](ActorId a) {
    if (node < fixed_) {
      const std::pair<size_t, ActorId> request{node, a};
      if (a != n.chosen && std::find(requests_.begin(), requests_.end(), request) == requests_.end())
        requests_.push_back(request);
    } else if (std::find(n.backtrack.begin(), n.backtrack.end(), a) == n.backtrack.end()) {
      n.backtrack.push_back(a);
    }
  };
  if (std::find(n.enabled.begin(), n.enabled.end(), actor) != n.enabled.end())
    add(actor);
  else
    for (ActorId a : n.enabled) add(a);
}

size_t DepthFirstSearch::coEnabledBefore(size_t i, ActorId actor, const Footprint& later) const {
  auto enabledAt = [&](size_t node) {
    const std::vector<ActorId>& e = path_[node].enabled;
    return path_[node].kind != PointKind::kFetch && std::find(e.begin(), e.end(), actor) != e.end();
  };
  if (enabledAt(i)) return SIZE_MAX;
  const ActorId racing = actorAt(i);
  for (size_t k = i; k-- > 0;) {
    if (actorAt(k) != racing || !enabledAt(k)) continue;
    const Footprint* fp = footprintAt(k);
    if (!fp || fp->conflictsWith(later)) return k;
  }
  return SIZE_MAX;
}

void DepthFirstSearch::analyseRun() {
  // Transitions from the first node this run did not replay on are new.
  const size_t from = std::min(happensBefore_.size(), path_.size());
  happensBefore_.truncate(from);
  blockStart_.resize(from);
  for (size_t j = from; j < path_.size(); ++j) {
    const ActorId actor = actorAt(j);
    // A run that ended inside this transition (a violation, an abandoned run) never
    // reported its footprint: it conflicts with everything.
    Footprint unknown;
    unknown.global = true;
    const Footprint* fp = footprintAt(j);
    races_.clear();
    happensBefore_.append(actor, fp ? *fp : unknown, races_);
    blockStart_.push_back(j > 0 && actorAt(j - 1) == actor ? blockStart_[j - 1] : j);
    for (size_t i : races_) {
      tryAt(i, actor);
      tryAt(blockStart_[i], actor);
      // An actor that could not run at i (suspended, say) was disabled by some earlier
      // transition of i's actor: the race that matters is with the latest one that
      // conflicts and ran while this actor could have run instead (Flanagan & Godefroid's
      // co-enabledness).
      if (const size_t k = coEnabledBefore(i, actor, fp ? *fp : unknown); k != SIZE_MAX) {
        tryAt(k, actor);
        tryAt(blockStart_[k], actor);
      }
    }
  }
}

double DepthFirstSearch::searchedShare() const {
  double share = 0, weight = 1;
  for (size_t i = fixed_; i < path_.size(); ++i) {
    const SearchNode& node = path_[i];
    size_t alternatives = 0, before = 0;
    for (ActorId a : node.enabled) {
      if (node.preemptionsBefore + node.cost(a) > bound_ || (node.asleep(a) && a != node.chosen)) continue;
      if (dpor_ && std::find(node.backtrack.begin(), node.backtrack.end(), a) == node.backtrack.end()) continue;
      ++alternatives;
      if (node.explored(a) && a != node.chosen) ++before;
    }
    if (alternatives <= 1) continue;
    share += weight * static_cast<double>(before) / static_cast<double>(alternatives);
    weight /= static_cast<double>(alternatives);
  }
  return share;
}

bool DepthFirstSearch::backtrack() {
  lastNode_ = SIZE_MAX;
  pendingSleep_.clear();
  if (dpor_) analyseRun();
  while (path_.size() > fixed_) {
    SearchNode& node = path_.back();
    // A run that ended inside this transition (a violation) never reported its
    // footprint: count it explored, conflicting with everything.
    if (!node.explored(node.chosen)) {
      Footprint unknown;
      unknown.global = true;
      node.done.emplace_back(node.chosen, std::move(unknown));
    }
    for (ActorId a : node.enabled) {
      if (node.explored(a) || node.asleep(a) || node.preemptionsBefore + node.cost(a) > bound_) continue;
      if (dpor_ && std::find(node.backtrack.begin(), node.backtrack.end(), a) == node.backtrack.end()) continue;
      node.chosen = a;
      replay_ = path_.size();
      // The transitions from this node on change: their analysis is redone after the run.
      happensBefore_.truncate(path_.size() - 1);
      blockStart_.resize(std::min(blockStart_.size(), path_.size() - 1));
      return true;
    }
    // Its footprints' memory serves the transitions of the next runs, and its own the
    // next nodes.
    for (auto* entries : {&node.done, &node.sleep})
      for (auto& [actor, fp] : *entries)
        if (spare_.size() < kSpareFootprints) {
          fp.clear();
          spare_.push_back(std::move(fp));
        }
    if (spareNodes_.size() < kSpareFootprints) {
      node.done.clear();
      node.sleep.clear();
      node.backtrack.clear();
      spareNodes_.push_back(std::move(node));
    }
    path_.pop_back();
  }
  return false;
}

}  // namespace hph
