#include "harness/explore/DepthFirstSearch.h"

#include <algorithm>

namespace hph {
namespace {

template <class Entries> bool containsActor(const Entries& entries, ActorId actor) {
  return std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return e.first == actor; });
}

}  // namespace

bool SearchNode::asleep(ActorId actor) const { return containsActor(sleep, actor); }
bool SearchNode::explored(ActorId actor) const { return containsActor(done, actor); }

DepthFirstSearch::DepthFirstSearch(std::vector<SearchNode> prefix, uint32_t preemptionBound, bool sleepSets)
    : path_(std::move(prefix)), fixed_(path_.size()), replay_(path_.size()), bound_(preemptionBound),
      sleepSets_(sleepSets) {}

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
  node.enabled.assign(point.enabled.begin(), point.enabled.end());
  node.current = point.current;
  node.currentEnabled = point.currentEnabled;
  if (i > 0) {
    const SearchNode& parent = path_[i - 1];
    node.preemptionsBefore = parent.preemptionsBefore + parent.cost(parent.chosen);
  }
  if (sleepSets_) node.sleep = std::move(pendingSleep_);
  pendingSleep_.clear();
  // The default choice first, so the first run of every subtree is its cheapest.
  std::vector<ActorId> order{defaultChoice(point)};
  for (ActorId a : point.enabled)
    if (a != order.front()) order.push_back(a);
  for (ActorId a : order) {
    if (node.asleep(a) || node.preemptionsBefore + node.cost(a) > bound_) continue;
    node.chosen = a;
    path_.push_back(std::move(node));
    lastNode_ = i;
    return a;
  }
  return kAbandon;  // every choice is asleep or over the bound: a redundant run
}

void DepthFirstSearch::transitionDone(const Footprint& footprint) {
  if (lastNode_ >= path_.size()) return;
  SearchNode& node = path_[lastNode_];
  if (!node.explored(node.chosen)) node.done.emplace_back(node.chosen, footprint);
  pendingSleep_.clear();
  if (!sleepSets_) return;
  // What slept here, or was explored here before, sleeps on unless this transition
  // conflicts with it.
  for (const auto* entries : {&node.sleep, &node.done})
    for (const auto& [actor, fp] : *entries)
      if (actor != node.chosen && !fp.conflictsWith(footprint) && !containsActor(pendingSleep_, actor))
        pendingSleep_.emplace_back(actor, fp);
}

bool DepthFirstSearch::backtrack() {
  lastNode_ = SIZE_MAX;
  pendingSleep_.clear();
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
      node.chosen = a;
      replay_ = path_.size();
      return true;
    }
    path_.pop_back();
  }
  return false;
}

}  // namespace hph
