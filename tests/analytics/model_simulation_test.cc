// The policy simulator: a hand-computed trace for every policy, Belady as
// the bound of every other policy and the budget on random traces, our
// schedule against LRU and keep-alive on daily rhythms, and the edges (a
// model larger than the budget, empty input, recorded loads, bad input).
#include "analytics/model_simulation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "analytics/errors.h"
#include "event/time.h"
#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using testing::kMondayUs;

constexpr int64_t kUsPerMinute = 60'000'000;

std::map<std::string, PolicyResult> by_name(const SimResult& result) {
  std::map<std::string, PolicyResult> policies;
  for (const PolicyResult& policy : result.policies) policies[policy.policy] = policy;
  return policies;
}

SimModel model(const std::string& id, double load_time_ms, double vram_mb) {
  return {id, load_time_ms, vram_mb};
}

// Three models of 1000 MB (A 1 s to load, B 2 s, C 4 s), room for two,
// one hour of uses at these minutes (no history):
//   0 A, 1 B, 2 A, 3 C, 4 A, 5 B, 12 B, 13 C, 20 A, 21 C, 22 B.
SimInput hand_trace() {
  SimInput input;
  input.models = {model("A", 1000, 1000), model("B", 2000, 1000), model("C", 4000, 1000)};
  input.start_us = kMondayUs;
  input.end_us = kMondayUs + kMicrosPerHour;
  input.budget_mb = 2000;
  const std::vector<std::pair<int, uint32_t>> trace = {
      {0, 0}, {1, 1}, {2, 0}, {3, 2}, {4, 0}, {5, 1}, {12, 1}, {13, 2}, {20, 0}, {21, 2}, {22, 1}};
  for (const auto& [minute, m] : trace)
    input.uses.push_back({kMondayUs + minute * kUsPerMinute, m});
  return input;
}

TEST(SimulateTest, HandComputedTrace) {
  const SimResult result = simulate(hand_trace());
  ASSERT_EQ(result.policies.size(), 5u);
  EXPECT_EQ(result.policies[0].policy, "ours");
  EXPECT_EQ(result.policies[1].policy, "lru");
  EXPECT_EQ(result.policies[2].policy, "lfu");
  EXPECT_EQ(result.policies[3].policy, "keep_alive_5m");
  EXPECT_EQ(result.policies[4].policy, "belady");
  auto policies = by_name(result);

  // lru:  0 A cold {A}; 1 B cold {A,B}; 2 A warm; 3 C cold, evicts B {A,C};
  //       4 A warm; 5 B cold, evicts C {A,B}; 12 B warm; 13 C cold, evicts A
  //       {B,C}; 20 A cold, evicts B {C,A}; 21 C warm; 22 B cold, evicts A.
  //       Warm 4; cold A A B B B C C: 1+1+2+2+2+4+4 = 16 s.
  const PolicyResult& lru = policies["lru"];
  EXPECT_EQ(lru.uses, 11);
  EXPECT_EQ(lru.warm_hits, 4);
  EXPECT_EQ(lru.cold_starts, 7);
  EXPECT_DOUBLE_EQ(lru.load_seconds, 16);
  EXPECT_EQ(lru.hour_start_loads, 0);
  EXPECT_DOUBLE_EQ(lru.warm_hit_ratio(), 4.0 / 11);

  // lfu (counts; ties least recent): 0 A1 cold; 1 B1 cold; 2 A2 warm;
  //       3 C1 cold, evicts B1 {A,C}; 4 A3 warm; 5 B2 cold, evicts C1 {A,B};
  //       12 B3 warm; 13 C2 cold, A3 and B3 tie, A less recent: evicts A
  //       {B,C}; 20 A4 cold, evicts C2 {B,A}; 21 C3 cold, evicts B3 {A,C};
  //       22 B4 cold, evicts C3. Warm 3; cold A A B B B C C C: 20 s.
  const PolicyResult& lfu = policies["lfu"];
  EXPECT_EQ(lfu.warm_hits, 3);
  EXPECT_EQ(lfu.cold_starts, 8);
  EXPECT_DOUBLE_EQ(lfu.load_seconds, 20);

  // keep_alive_5m: 0 A cold; 1 B cold; 2 A warm; 3 C cold, evicts B (LRU);
  //       4 A warm; 5 B cold, evicts C; 12: A (last 4) and B (last 5) have
  //       expired, B cold; 13 C cold {B,C}; 20: both expired, A cold;
  //       21 C cold {A,C}; 22 B cold, evicts A.
  //       Warm 2; cold A A B B B B C C C: 1+1+2+2+2+2+4+4+4 = 22 s.
  const PolicyResult& keep_alive = policies["keep_alive_5m"];
  EXPECT_EQ(keep_alive.warm_hits, 2);
  EXPECT_EQ(keep_alive.cold_starts, 9);
  EXPECT_DOUBLE_EQ(keep_alive.load_seconds, 22);

  // belady: the hour start loads A (next use 0) and B (1), not C (3).
  //       0 A, 1 B, 2 A warm; 3 C cold, A next at 4, B at 5: evicts B;
  //       4 A warm; 5 B cold, A next at 20, C at 13: evicts A; 12 B and
  //       13 C warm; 20 A cold, B next at 22, C at 21: evicts B; 21 C warm;
  //       22 B cold. Warm 7; cold A B B C: 1+2+2+4 = 9 s.
  const PolicyResult& belady = policies["belady"];
  EXPECT_EQ(belady.warm_hits, 7);
  EXPECT_EQ(belady.cold_starts, 4);
  EXPECT_DOUBLE_EQ(belady.load_seconds, 9);
  EXPECT_EQ(belady.hour_start_loads, 2);

  // ours: nothing came before the hour, so it plans nothing; every value is
  //       0 and eviction falls to the least recent: exactly lru.
  const PolicyResult& ours = policies["ours"];
  EXPECT_EQ(ours.warm_hits, 4);
  EXPECT_EQ(ours.cold_starts, 7);
  EXPECT_DOUBLE_EQ(ours.load_seconds, 16);
  EXPECT_EQ(ours.hour_start_loads, 0);

  for (const PolicyResult& policy : result.policies) EXPECT_LE(policy.peak_vram_mb, 2000);
}

// A week of history: model 0 at 09:10 every day, model 1 at 15:10; room for
// one. On the next day ours has model 0 loaded at 09:00 and model 1 at
// 15:00 (at least those two hour-start loads; hours whose plan is empty
// may fill the room too). lru, lfu and keep-alive come out of the history
// holding model 1 (or nothing) and start each of the day's two uses cold.
TEST(SimulateTest, OursPreloadsWhatTheHistoryPredicts) {
  SimInput input;
  input.models = {model("morning", 5000, 8000), model("afternoon", 3000, 8000)};
  input.budget_mb = 10'000;
  input.start_us = kMondayUs + 7 * kMicrosPerDay;
  input.end_us = input.start_us + kMicrosPerDay;
  for (int day = 0; day < 7; ++day) {
    input.history.push_back(
        {kMondayUs + day * kMicrosPerDay + 9 * kMicrosPerHour + 10 * kUsPerMinute, 0});
    input.history.push_back(
        {kMondayUs + day * kMicrosPerDay + 15 * kMicrosPerHour + 10 * kUsPerMinute, 1});
  }
  input.uses = {{input.start_us + 9 * kMicrosPerHour + 10 * kUsPerMinute, 0},
                {input.start_us + 15 * kMicrosPerHour + 10 * kUsPerMinute, 1}};
  auto policies = by_name(simulate(input));
  EXPECT_EQ(policies["ours"].warm_hits, 2);
  EXPECT_GE(policies["ours"].hour_start_loads, 2);
  EXPECT_EQ(policies["ours"].load_seconds, 0);
  EXPECT_EQ(policies["belady"].warm_hits, 2);
  for (const char* name : {"lru", "lfu", "keep_alive_5m"}) {
    EXPECT_EQ(policies[name].warm_hits, 0) << name;
    EXPECT_DOUBLE_EQ(policies[name].load_seconds, 8) << name;
  }
}

// Random uses with a rhythm of their own per model, and a random history.
SimInput random_trace(std::mt19937_64& random, bool equal_sizes) {
  std::uniform_real_distribution<double> unit(0, 1);
  SimInput input;
  const int models = 2 + static_cast<int>(random() % 10);
  for (int m = 0; m < models; ++m) {
    const double vram = equal_sizes ? 1000 : 200 + unit(random) * 1800;
    input.models.push_back(model('m' + std::to_string(m), 100 + unit(random) * 9900, vram));
  }
  input.budget_mb =
      equal_sizes ? 1000.0 * static_cast<double>(1 + random() % 4) : 1000 + unit(random) * 3000;
  input.start_us = kMondayUs + 2 * kMicrosPerDay;
  input.end_us = input.start_us + static_cast<int64_t>(1 + random() % 72) * kMicrosPerHour;
  const auto fill = [&](std::vector<SimUse>& uses, int64_t from, int64_t to, int count) {
    for (int i = 0; i < count; ++i) {
      const uint32_t m = static_cast<uint32_t>(std::min<uint64_t>(
          random() % static_cast<uint64_t>(models), random() % static_cast<uint64_t>(models)));
      uses.push_back(
          {from + static_cast<int64_t>(unit(random) * static_cast<double>(to - from)), m});
    }
    std::sort(uses.begin(), uses.end(),
              [](const SimUse& a, const SimUse& b) { return a.timestamp_us < b.timestamp_us; });
  };
  fill(input.history, kMondayUs, input.start_us, static_cast<int>(random() % 300));
  fill(input.uses, input.start_us, input.end_us, static_cast<int>(random() % 400));
  return input;
}

TEST(SimulateTest, BeladyBoundsEveryPolicyWithEqualSizes) {
  std::mt19937_64 random(17);
  for (int round = 0; round < 300; ++round) {
    const SimInput input = random_trace(random, true);
    const SimResult result = simulate(input);
    const int64_t belady = by_name(result)["belady"].warm_hits;
    for (const PolicyResult& policy : result.policies) {
      EXPECT_LE(policy.warm_hits, belady) << policy.policy << " round " << round;
    }
  }
}

TEST(SimulateTest, TheBudgetIsNeverExceededAndEveryUseIsCounted) {
  std::mt19937_64 random(23);
  for (int round = 0; round < 300; ++round) {
    SimInput input = random_trace(random, round % 2 == 0);
    // Now and then a model larger than the budget.
    if (round % 3 == 0) input.models[0].vram_mb = input.budget_mb * 1.5;
    const SimResult result = simulate(input);
    ASSERT_EQ(result.policies.size(), 5u);
    for (const PolicyResult& policy : result.policies) {
      EXPECT_LE(policy.peak_vram_mb, input.budget_mb) << policy.policy;
      EXPECT_EQ(policy.uses, static_cast<int64_t>(input.uses.size()));
      EXPECT_EQ(policy.warm_hits + policy.cold_starts, policy.uses);
    }
  }
}

// 40 models with different daily peaks (normal around their peak hour, sd
// 1.5 h, some busier than others), load times 5-30 s, room for 5; three
// weeks of history and two simulated.
SimInput daily_rhythm(uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::normal_distribution<double> around(0, 1.5);
  SimInput input;
  std::vector<double> peak;
  std::vector<double> per_day;
  for (int m = 0; m < 40; ++m) {
    input.models.push_back(model('m' + std::to_string(m), 5000 + unit(random) * 25'000, 6000));
    peak.push_back(unit(random) * 24);
    per_day.push_back(5 + unit(random) * 40);
  }
  input.budget_mb = 5 * 6000;
  input.start_us = kMondayUs + 21 * kMicrosPerDay;
  input.end_us = input.start_us + 14 * kMicrosPerDay;
  std::vector<SimUse> all;
  for (int day = 0; day < 35; ++day) {
    for (uint32_t m = 0; m < 40; ++m) {
      std::poisson_distribution<int> count(per_day[m]);
      for (int k = count(random); k > 0; --k) {
        const double hour = std::fmod(peak[m] + around(random) + 48, 24);
        all.push_back(
            {kMondayUs + day * kMicrosPerDay + static_cast<int64_t>(hour * kMicrosPerHour), m});
      }
    }
  }
  std::sort(all.begin(), all.end(),
            [](const SimUse& a, const SimUse& b) { return a.timestamp_us < b.timestamp_us; });
  for (const SimUse& use : all)
    (use.timestamp_us < input.start_us ? input.history : input.uses).push_back(use);
  return input;
}

TEST(SimulateTest, OursBeatsLruAndKeepAliveOnDailyRhythms) {
  for (uint64_t seed : {1, 2, 3}) {
    const SimInput input = daily_rhythm(seed);
    auto policies = by_name(simulate(input));
    const PolicyResult& ours = policies["ours"];
    for (const char* name : {"lru", "keep_alive_5m"}) {
      EXPECT_GT(ours.warm_hits, policies[name].warm_hits) << name << " seed " << seed;
      EXPECT_LT(ours.load_seconds, policies[name].load_seconds) << name << " seed " << seed;
    }
    EXPECT_LE(ours.warm_hits, policies["belady"].warm_hits);
    EXPECT_GT(ours.hour_start_loads, 0);
  }
}

TEST(SimulateTest, AModelLargerThanTheBudgetIsAlwaysColdAndNeverStays) {
  SimInput input;
  input.models = {model("small", 1000, 4000), model("huge", 60'000, 50'000)};
  input.budget_mb = 24'000;
  input.start_us = kMondayUs;
  input.end_us = kMondayUs + 2 * kMicrosPerHour;
  for (int i = 0; i < 10; ++i) {
    input.uses.push_back({kMondayUs + i * 10 * kUsPerMinute, 0});
    input.uses.push_back({kMondayUs + i * 10 * kUsPerMinute + kUsPerMinute, 1});
  }
  for (const PolicyResult& policy : simulate(input).policies) {
    // The huge model: 10 cold starts of 60 s each, and it never takes VRAM.
    // The small one, once loaded, stays: one cold start of 1 s for lru, lfu
    // and ours (nothing came before the window), none for belady (it
    // preloads it); keep-alive unloads it between its uses, 10 minutes apart.
    EXPECT_LE(policy.peak_vram_mb, 4000) << policy.policy;
    if (policy.policy == "belady") {
      EXPECT_EQ(policy.cold_starts, 10);
      EXPECT_DOUBLE_EQ(policy.load_seconds, 600);
    } else if (policy.policy == "keep_alive_5m") {
      EXPECT_EQ(policy.cold_starts, 20);
      EXPECT_DOUBLE_EQ(policy.load_seconds, 610);
    } else {
      EXPECT_EQ(policy.cold_starts, 11) << policy.policy;
      EXPECT_DOUBLE_EQ(policy.load_seconds, 601) << policy.policy;
    }
  }
}

TEST(SimulateTest, EmptyInput) {
  const SimResult empty = simulate(SimInput{});
  ASSERT_EQ(empty.policies.size(), 5u);
  for (const PolicyResult& policy : empty.policies) {
    EXPECT_EQ(policy.uses, 0);
    EXPECT_EQ(policy.warm_hit_ratio(), 0);
    EXPECT_EQ(policy.load_seconds, 0);
    EXPECT_EQ(policy.peak_vram_mb, 0);
  }
  // A window without uses, and models without a budget.
  SimInput quiet;
  quiet.models = {model("a", 1000, 100)};
  quiet.start_us = kMondayUs;
  quiet.end_us = kMondayUs + 30 * kMicrosPerDay;
  quiet.history = {{kMondayUs - kMicrosPerHour, 0}};
  quiet.has_actual = true;
  const SimResult result = simulate(quiet);
  ASSERT_EQ(result.policies.size(), 6u);
  EXPECT_EQ(result.policies[5].policy, "actual");
  for (const PolicyResult& policy : result.policies) EXPECT_EQ(policy.uses, 0);
}

TEST(SimulateTest, ActualCountsUsesInsideRecordedLoadedIntervals) {
  SimInput input = hand_trace();
  input.has_actual = true;
  input.actual_load_ms = 12'500;
  // A loaded minutes 0-10 on one worker and 8-21 on another; C from minute
  // 13 on (the interval ends where the window does); B never.
  input.actual_loaded = {{0, kMondayUs, kMondayUs + 10 * kUsPerMinute},
                         {2, kMondayUs + 13 * kUsPerMinute, kMondayUs + kMicrosPerHour},
                         {0, kMondayUs + 8 * kUsPerMinute, kMondayUs + 20 * kUsPerMinute},
                         {1, kMondayUs + 30 * kUsPerMinute, kMondayUs + 30 * kUsPerMinute}};
  const SimResult result = simulate(input);
  ASSERT_EQ(result.policies.size(), 6u);
  const PolicyResult& actual = result.policies[5];
  EXPECT_EQ(actual.policy, "actual");
  // Warm: A at 0, 2, 4 (A at 20 is at the end, exclusive), C at 13 and 21.
  EXPECT_EQ(actual.warm_hits, 5);
  EXPECT_EQ(actual.cold_starts, 6);
  EXPECT_DOUBLE_EQ(actual.load_seconds, 12.5);
}

TEST(SimulateTest, BadInputIsRefusedWithTheField) {
  const auto refused = [](const SimInput& input, const std::string& field) {
    try {
      simulate(input);
    } catch (const InvalidArgument& error) {
      EXPECT_EQ(error.parameter(), field);
      return;
    }
    ADD_FAILURE() << "accepted; expected an error on " << field;
  };
  SimInput out_of_range = hand_trace();
  out_of_range.uses[3].model = 3;
  refused(out_of_range, "uses");
  SimInput unordered = hand_trace();
  std::swap(unordered.uses[0], unordered.uses[5]);
  refused(unordered, "uses");
  SimInput late = hand_trace();
  late.uses.back().timestamp_us = late.end_us;
  refused(late, "uses");
  SimInput history_in_window = hand_trace();
  history_in_window.history = {{history_in_window.start_us, 0}};
  refused(history_in_window, "history");
  SimInput unaligned = hand_trace();
  unaligned.start_us += 1;
  refused(unaligned, "start_us");
  SimInput budget = hand_trace();
  budget.budget_mb = -1;
  refused(budget, "budget_mb");
  SimInput vram = hand_trace();
  vram.models[1].vram_mb = std::nan("");
  refused(vram, "models");
  SimInput interval = hand_trace();
  interval.actual_loaded = {{7, 0, 1}};
  refused(interval, "actual_loaded");
}

}  // namespace
}  // namespace genalytics
