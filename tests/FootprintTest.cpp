// When two transitions conflict (Footprint::conflictsWith): the rule sleep sets prune by.
// A table, as Zydis' golden tests: each row two footprints, the expected answer and why;
// every row is checked both ways round (the relation is symmetric).
#include <gtest/gtest.h>

#include "emu/core/Schedule.h"

namespace hph::test {
namespace {

struct ConflictCase {
  const char* name;
  Footprint a;
  Footprint b;
  bool conflict;
};

Footprint thread(ActorId actor) {
  Footprint f;
  f.actor = actor;
  return f;
}
Footprint fetches(ActorId actor, uint64_t begin, uint64_t end) {
  Footprint f = thread(actor);
  f.fetched.push_back({begin, end});
  return f;
}
Footprint reads(ActorId actor, uint64_t address) {
  Footprint f = thread(actor);
  f.reads.push_back(address >> 3);
  return f;
}
Footprint writes(ActorId actor, uint64_t address) {
  Footprint f = thread(actor);
  f.writes.push_back(address >> 3);
  return f;
}
Footprint stores(uint64_t begin, uint64_t end) {
  Footprint f = thread(kPatcher);
  f.stored.push_back({begin, end});
  return f;
}
Footprint global(ActorId actor) {
  Footprint f = thread(actor);
  f.global = true;
  return f;
}

const ConflictCase kCases[] = {
    {"fetches_of_the_same_code_commute", fetches(0, 0x1000, 0x1004), fetches(1, 0x1000, 0x1004), false},
    {"a_store_conflicts_with_a_fetch_of_its_bytes", stores(0x1000, 0x1002), fetches(0, 0x1001, 0x1005), true},
    {"a_store_next_to_a_fetch_commutes", stores(0x1000, 0x1002), fetches(0, 0x1002, 0x1006), false},
    {"a_store_conflicts_with_a_data_read_of_its_bytes", stores(0x1000, 0x1001), reads(0, 0x1000), true},
    {"a_store_conflicts_with_a_data_read_in_its_granule", stores(0x1004, 0x1005), reads(0, 0x1000), true},
    {"a_store_conflicts_with_a_data_write_of_its_bytes", stores(0x1008, 0x1010), writes(1, 0x1008), true},
    {"a_store_and_a_read_elsewhere_commute", stores(0x1000, 0x1008), reads(0, 0x2000), false},
    {"stores_to_the_same_bytes_conflict", stores(0x1000, 0x1004), stores(0x1002, 0x1006), true},
    {"reads_of_one_granule_commute", reads(0, 0x3000), reads(1, 0x3000), false},
    {"a_write_conflicts_with_a_read_of_its_granule", writes(0, 0x3000), reads(1, 0x3004), true},
    {"writes_to_one_granule_conflict", writes(0, 0x3000), writes(1, 0x3000), true},
    {"writes_to_other_granules_commute", writes(0, 0x3000), writes(1, 0x3008), false},
    {"a_global_transition_conflicts_with_an_empty_one", global(0), thread(1), true},
};

class Conflicts : public ::testing::TestWithParam<ConflictCase> {};

TEST_P(Conflicts, MatchTheRuleBothWaysRound) {
  ConflictCase c = GetParam();
  c.a.normalize();
  c.b.normalize();
  EXPECT_EQ(c.a.conflictsWith(c.b), c.conflict);
  EXPECT_EQ(c.b.conflictsWith(c.a), c.conflict);
}

INSTANTIATE_TEST_SUITE_P(Table, Conflicts, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace hph::test
