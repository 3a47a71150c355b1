// The preload schedule: the budget holds on random candidates, the chosen
// sets against a brute force over every subset (exact for the rounded sizes,
// within the stated bound of the true optimum), ties, expected cold starts
// against generated hours, and keep-alive windows across the week boundary.
#include "analytics/model_schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace genalytics {
namespace {

using Windows = std::vector<std::pair<int, int>>;

// The best subset by brute force: most value, then least VRAM, then the
// smallest ascending index list; among sets whose `size(i)` sum is at most
// `capacity`.
template <typename Size>
std::vector<size_t> brute_force(const std::vector<KnapsackItem>& items, double capacity,
                                const Size& size) {
  std::vector<size_t> best;
  double best_value = 0;
  double best_vram = 0;
  for (uint32_t mask = 0; mask < (1u << items.size()); ++mask) {
    std::vector<size_t> set;
    double value = 0;
    double vram = 0;
    double used = 0;
    bool valid = true;
    for (size_t i = 0; i < items.size(); ++i) {
      if ((mask >> i & 1) == 0) continue;
      if (!(items[i].value > 0)) valid = false;
      set.push_back(i);
      value += items[i].value;
      vram += items[i].vram_mb;
      used += size(i);
    }
    if (!valid || used > capacity) continue;
    const bool better =
        value > best_value + 1e-9 ||
        (std::abs(value - best_value) <= 1e-9 &&
         (vram < best_vram - 1e-9 || (std::abs(vram - best_vram) <= 1e-9 && set < best)));
    if (better) {
      best = set;
      best_value = value;
      best_vram = vram;
    }
  }
  return best;
}

double value_of(const std::vector<KnapsackItem>& items, const std::vector<size_t>& set) {
  double value = 0;
  for (size_t i : set) value += items[i].value;
  return value;
}

// Some worthless, some too large, most between `smallest` and half the
// budget (large ones leave room for few, so most items are dominated).
std::vector<KnapsackItem> random_items(std::mt19937_64& random, size_t count, double budget,
                                       double smallest = 0.05) {
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<KnapsackItem> items(count);
  for (KnapsackItem& item : items) {
    item.value = unit(random) < 0.1 ? 0 : unit(random) * 5000;
    item.vram_mb = unit(random) < 0.1 ? budget * (1 + unit(random))
                                      : budget * (smallest + (0.5 - smallest) * unit(random));
  }
  return items;
}

TEST(ChooseWithinBudgetTest, ExactForRoundedSizesAndWithinTheBoundOfTheTrueOptimum) {
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> budgets(1000, 48'000);
  for (int round = 0; round < 600; ++round) {
    const double budget = budgets(random);
    const std::vector<KnapsackItem> items =
        random_items(random, 1 + random() % 12, budget, round % 2 ? 0.25 : 0.05);
    const std::vector<size_t> chosen = choose_within_budget(items, budget);

    // The sizes the knapsack works in: VRAM in budget / G units, rounded up.
    const double unit = budget / kScheduleGranularity;
    const auto rounded = [&](size_t i) { return std::ceil(items[i].vram_mb / unit); };
    EXPECT_EQ(chosen, brute_force(items, kScheduleGranularity, rounded)) << "round " << round;

    // Never better than the true optimum, never worse than the true optimum
    // of sets of k models within budget x (1 - k / G).
    const double value = value_of(items, chosen);
    const auto vram = [&](size_t i) { return items[i].vram_mb; };
    EXPECT_LE(value, value_of(items, brute_force(items, budget, vram)) + 1e-9);
    const auto shrunk = [&](size_t i) { return items[i].vram_mb + unit; };
    EXPECT_GE(value + 1e-9, value_of(items, brute_force(items, budget, shrunk)));
  }
}

TEST(ChooseWithinBudgetTest, ExactMultiplesOfTheUnitFillTheBudget) {
  const std::vector<KnapsackItem> quarters(4, {100, 6144});
  EXPECT_EQ(choose_within_budget(quarters, 24'576), (std::vector<size_t>{0, 1, 2, 3}));
  const std::vector<KnapsackItem> halves = {{1, 5}, {1, 5}, {1, 5}};
  EXPECT_EQ(choose_within_budget(halves, 10), (std::vector<size_t>{0, 1}));
}

TEST(ChooseWithinBudgetTest, TiesGoToLessVramThenLowerIndexes) {
  // Equal value: the smaller model.
  const std::vector<KnapsackItem> sizes = {{50, 8000}, {50, 6000}, {50, 7000}};
  EXPECT_EQ(choose_within_budget(sizes, 8000), (std::vector<size_t>{1}));
  // Equal value and VRAM: the lowest indexes.
  const std::vector<KnapsackItem> same(5, {10, 4000});
  EXPECT_EQ(choose_within_budget(same, 8000), (std::vector<size_t>{0, 1}));
  // {0} and {1, 2} are worth the same; {1, 2} takes less VRAM.
  const std::vector<KnapsackItem> split = {{60, 9000}, {30, 4000}, {30, 4000}};
  EXPECT_EQ(choose_within_budget(split, 9000), (std::vector<size_t>{1, 2}));
}

TEST(ChooseWithinBudgetTest, WorthlessOversizedAndBadItemsAreNeverChosen) {
  const std::vector<KnapsackItem> items = {{0, 10}, {100, 30},         {-5, 1}, {std::nan(""), 1},
                                           {5, -1}, {5, std::nan("")}, {7, 20}};
  EXPECT_EQ(choose_within_budget(items, 20), (std::vector<size_t>{6}));
  EXPECT_TRUE(choose_within_budget({}, 20).empty());
  // A budget of 0 holds only models that take no VRAM.
  const std::vector<KnapsackItem> free = {{3, 0}, {4, 1}};
  EXPECT_EQ(choose_within_budget(free, 0), (std::vector<size_t>{0}));
  // An unbounded budget holds every finite model, never an infinite one; a
  // budget that is not a number holds nothing.
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<KnapsackItem> unbounded = {{5, inf}, {3, 10}, {2, 1e300}};
  EXPECT_EQ(choose_within_budget(unbounded, inf), (std::vector<size_t>{1, 2}));
  EXPECT_TRUE(choose_within_budget(unbounded, std::nan("")).empty());
}

// Many candidates (where the dominance pruning drops most of them): the
// budget holds and the set matches the exhaustive answer for rounded sizes.
TEST(ChooseWithinBudgetTest, ManyCandidatesSmallBudget) {
  std::mt19937_64 random(5);
  for (int round = 0; round < 20; ++round) {
    std::vector<KnapsackItem> items = random_items(random, 500, 24'000);
    const std::vector<size_t> chosen = choose_within_budget(items, 24'000);
    double vram = 0;
    for (size_t i : chosen) vram += items[i].vram_mb;
    EXPECT_LE(vram, 24'000);
    EXPECT_FALSE(chosen.empty());
    // The same instance restricted to the 12 most valuable fitting items
    // plus the chosen ones cannot beat the choice.
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return items[a].value > items[b].value; });
    std::vector<KnapsackItem> small;
    for (size_t i : order) {
      if (items[i].vram_mb <= 24'000 && small.size() < 12) small.push_back(items[i]);
    }
    const double unit = 24'000.0 / kScheduleGranularity;
    const auto rounded = [&](size_t i) { return std::ceil(small[i].vram_mb / unit); };
    EXPECT_GE(value_of(items, chosen) + 1e-9,
              value_of(small, brute_force(small, kScheduleGranularity, rounded)));
  }
}

// The choice of a plain 0/1 knapsack over every item in budget / G units (the
// weights as the header states them: VRAM rounded up, never below the
// model), no pruning and no columns skipped: items from the last to the
// first, a tie taking the item, so that the set read back from the first
// item is the earliest optimal one.
std::vector<size_t> plain_knapsack(const std::vector<KnapsackItem>& items, double budget) {
  const double unit = budget / kScheduleGranularity;
  constexpr size_t kColumns = kScheduleGranularity + 1;
  std::vector<size_t> index;
  std::vector<size_t> weight;
  for (size_t i = 0; i < items.size(); ++i) {
    const KnapsackItem& item = items[i];
    if (!(item.value > 0) || !(item.vram_mb >= 0) || item.vram_mb > budget) continue;
    auto w =
        static_cast<size_t>(std::min<double>(std::ceil(item.vram_mb / unit), kScheduleGranularity));
    if (w < kScheduleGranularity && static_cast<double>(w) * unit < item.vram_mb) ++w;
    index.push_back(i);
    weight.push_back(w);
  }
  std::vector<std::pair<double, double>> best(kColumns, {0.0, 0.0});  // value, VRAM
  std::vector<std::vector<bool>> take(index.size(), std::vector<bool>(kColumns, false));
  for (size_t k = index.size(); k-- > 0;) {
    const KnapsackItem& item = items[index[k]];
    for (size_t c = kColumns; c-- > weight[k];) {
      const std::pair<double, double> with{best[c - weight[k]].first + item.value,
                                           best[c - weight[k]].second + item.vram_mb};
      if (with.first > best[c].first ||
          (with.first == best[c].first && with.second <= best[c].second)) {
        best[c] = with;
        take[k][c] = true;
      }
    }
  }
  std::vector<size_t> chosen;
  size_t capacity = kScheduleGranularity;
  for (size_t k = 0; k < index.size(); ++k) {
    if (!take[k][capacity]) continue;
    chosen.push_back(index[k]);
    capacity -= weight[k];
  }
  return chosen;
}

// Hundreds of items on a few shared sizes with few distinct values, as a
// fleet of the same checkpoints has: the pruning by dominance (which orders
// items of equal VRAM by value) and the columns filled as the weight grows
// choose the plain knapsack's set, ties included; and the schedule's hours,
// which share the sizes and run at once, choose what one hour alone would.
TEST(ChooseWithinBudgetTest, ManySharedSizesChooseThePlainKnapsacksSet) {
  std::mt19937_64 random(17);
  const double sizes[] = {2048, 4096, 6144, 6144, 8192, 700, 300};
  for (int round = 0; round < 40; ++round) {
    const double budget = 8000 + static_cast<double>(random() % 40'000);
    std::vector<KnapsackItem> items(50 + random() % 400);
    for (KnapsackItem& item : items) {
      item.value = static_cast<double>(random() % 12);  // 0 (never chosen) to 11: many ties
      item.vram_mb = random() % 8 == 0 ? static_cast<double>(random() % 9000) : sizes[random() % 7];
    }
    const std::vector<size_t> chosen = choose_within_budget(items, budget);
    double vram = 0;
    for (size_t i : chosen) vram += items[i].vram_mb;
    EXPECT_LE(vram, budget);
    // The same set, down to the tie between sets of equal value and VRAM.
    EXPECT_EQ(chosen, plain_knapsack(items, budget)) << "round " << round;
  }
  // A week of such hours: each hour's plan is that hour's own choice.
  std::vector<ScheduleCandidate> candidates(300);
  for (ScheduleCandidate& candidate : candidates) {
    for (double& loads : candidate.expected_loads) loads = static_cast<double>(random() % 4) / 4;
    candidate.load_time_ms = 1000.0 * static_cast<double>(1 + random() % 3);
    candidate.vram_mb = sizes[random() % 7];
  }
  TaskPool pool(3);  // hours planned at once, whatever the machine's cores
  const std::vector<HourPlan> plan = plan_schedule(candidates, 24'576, pool);
  for (int hour = 0; hour < kHoursPerWeek; ++hour) {
    std::vector<KnapsackItem> items;
    for (const ScheduleCandidate& candidate : candidates) {
      items.push_back({candidate.expected_loads[static_cast<size_t>(hour)] * candidate.load_time_ms,
                       candidate.vram_mb});
    }
    EXPECT_EQ(plan[static_cast<size_t>(hour)].models, choose_within_budget(items, 24'576))
        << "hour " << hour;
  }
}

TEST(ExpectedColdStartsTest, SlotsWithAUseOfPoissonArrivals) {
  EXPECT_EQ(expected_cold_starts(0), 0);
  EXPECT_EQ(expected_cold_starts(-1), 0);
  EXPECT_EQ(expected_cold_starts(std::nan("")), 0);
  EXPECT_DOUBLE_EQ(expected_cold_starts(12), 12 * (1 - std::exp(-1.0)));
  // Rare use: about the probability of a use; constant use: every slot.
  EXPECT_NEAR(expected_cold_starts(0.01), 0.01, 1e-5);
  EXPECT_NEAR(expected_cold_starts(1e4), kSlotsPerHour, 1e-9);
  EXPECT_LT(expected_cold_starts(2), expected_cold_starts(100));

  // Against generated hours: Poisson(rate) uses at uniform times, counting
  // the 5-minute slots that hold at least one.
  std::mt19937_64 random(13);
  std::uniform_real_distribution<double> minute(0, 60);
  for (double rate : {0.3, 4.0, 30.0}) {
    std::poisson_distribution<int> uses(rate);
    double slots = 0;
    constexpr int kHours = 100'000;
    for (int hour = 0; hour < kHours; ++hour) {
      std::array<bool, kSlotsPerHour> used{};
      for (int k = uses(random); k > 0; --k) {
        used[std::min<size_t>(static_cast<size_t>(minute(random) / 5), kSlotsPerHour - 1)] = true;
      }
      slots += static_cast<double>(std::count(used.begin(), used.end(), true));
    }
    EXPECT_NEAR(slots / kHours, expected_cold_starts(rate), 0.02 * expected_cold_starts(rate))
        << rate;
  }
}

TEST(PlanScheduleTest, TheBudgetHoldsEveryHourOnRandomCandidates) {
  std::mt19937_64 random(9);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int round = 0; round < 30; ++round) {
    const double budget = 4000 + unit(random) * 40'000;
    std::vector<ScheduleCandidate> candidates(1 + random() % 60);
    for (ScheduleCandidate& candidate : candidates) {
      for (double& p : candidate.expected_loads) p = unit(random) < 0.3 ? 0 : unit(random);
      candidate.load_time_ms = unit(random) * 20'000;
      candidate.vram_mb = unit(random) * budget * 0.8;
    }
    const std::vector<HourPlan> plan = plan_schedule(candidates, budget);
    ASSERT_EQ(plan.size(), static_cast<size_t>(kHoursPerWeek));
    for (int hour = 0; hour < kHoursPerWeek; ++hour) {
      const HourPlan& hour_plan = plan[static_cast<size_t>(hour)];
      EXPECT_EQ(hour_plan.hour_of_week, hour);
      EXPECT_TRUE(std::is_sorted(hour_plan.models.begin(), hour_plan.models.end()));
      double vram = 0;
      double saved = 0;
      for (size_t i : hour_plan.models) {
        ASSERT_LT(i, candidates.size());
        EXPECT_GT(candidates[i].expected_loads[static_cast<size_t>(hour)], 0);
        vram += candidates[i].vram_mb;
        saved +=
            candidates[i].expected_loads[static_cast<size_t>(hour)] * candidates[i].load_time_ms;
      }
      EXPECT_LE(vram, budget);
      EXPECT_DOUBLE_EQ(hour_plan.vram_mb, vram);
      EXPECT_DOUBLE_EQ(hour_plan.expected_saved_ms, saved);
    }
  }
}

TEST(PlanScheduleTest, FollowsEachHoursProbabilities) {
  // Budget for two of three equal models; model 2 is used only at night.
  std::vector<ScheduleCandidate> candidates(3);
  for (size_t i = 0; i < 3; ++i) {
    candidates[i].model_id = 'm' + std::to_string(i);
    candidates[i].vram_mb = 6000;
    candidates[i].load_time_ms = 10'000;
  }
  for (int hour = 0; hour < kHoursPerWeek; ++hour) {
    const bool night = hour % 24 < 6;
    candidates[0].expected_loads[static_cast<size_t>(hour)] = 0.9;
    candidates[1].expected_loads[static_cast<size_t>(hour)] = night ? 0.1 : 0.5;
    candidates[2].expected_loads[static_cast<size_t>(hour)] = night ? 0.8 : 0;
  }
  const std::vector<HourPlan> plan = plan_schedule(candidates, 12'000);
  EXPECT_EQ(plan[2].models, (std::vector<size_t>{0, 2}));
  EXPECT_DOUBLE_EQ(plan[2].expected_saved_ms, 17'000);
  EXPECT_EQ(plan[12].models, (std::vector<size_t>{0, 1}));
  EXPECT_DOUBLE_EQ(plan[12].vram_mb, 12'000);

  const std::vector<KeepAliveWindow> windows = keep_alive_windows(plan, candidates.size());
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_EQ(windows[0].hours, (Windows{{0, 168}}));
  // Model 1 by day, 06:00-24:00: seven ranges, the last ending with the
  // week; nothing wraps, since Monday 00:00-06:00 is not in the plan.
  EXPECT_EQ(windows[1].hours.front(), (std::pair<int, int>{6, 24}));
  EXPECT_EQ(windows[1].hours.back(), (std::pair<int, int>{150, 168}));
  EXPECT_EQ(windows[1].hours.size(), 7u);
  EXPECT_EQ(windows[2].hours.front(), (std::pair<int, int>{0, 6}));
  EXPECT_EQ(windows[2].hours.size(), 7u);
}

TEST(KeepAliveWindowsTest, RangesMergeAcrossTheWeekBoundary) {
  std::vector<HourPlan> plan(kHoursPerWeek);
  for (int hour = 0; hour < kHoursPerWeek; ++hour) {
    HourPlan& hour_plan = plan[static_cast<size_t>(hour)];
    hour_plan.hour_of_week = hour;
    if (hour >= 166 || hour < 2) hour_plan.models.push_back(0);  // Sunday 22:00-Monday 02:00
    hour_plan.models.push_back(1);                               // always
    if ((hour >= 5 && hour < 8) || hour == 10) hour_plan.models.push_back(2);
    if (hour == 167) hour_plan.models.push_back(3);
    if (hour == 0) hour_plan.models.push_back(4);
    // Model 5 is never planned.
  }
  const std::vector<KeepAliveWindow> windows = keep_alive_windows(plan, 6);
  ASSERT_EQ(windows.size(), 5u);
  EXPECT_EQ(windows[0].model, 0u);
  EXPECT_EQ(windows[0].hours, (Windows{{166, 2}}));
  EXPECT_EQ(windows[1].hours, (Windows{{0, 168}}));
  EXPECT_EQ(windows[2].hours, (Windows{{5, 8}, {10, 11}}));
  EXPECT_EQ(windows[3].hours, (Windows{{167, 168}}));
  EXPECT_EQ(windows[4].model, 4u);
  EXPECT_EQ(windows[4].hours, (Windows{{0, 1}}));
}

TEST(KeepAliveWindowsTest, WrapsWithOtherRangesBetween) {
  std::vector<HourPlan> plan;
  for (int hour : {0, 1, 50, 51, 52, 100, 160, 167}) plan.push_back({hour, {0}, 0, 0});
  const std::vector<KeepAliveWindow> windows = keep_alive_windows(plan, 1);
  ASSERT_EQ(windows.size(), 1u);
  EXPECT_EQ(windows[0].hours, (Windows{{50, 53}, {100, 101}, {160, 161}, {167, 2}}));
  EXPECT_TRUE(keep_alive_windows({}, 3).empty());
}

}  // namespace
}  // namespace genalytics
