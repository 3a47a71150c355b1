#include "analytics/model_schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <queue>

namespace genalytics {
namespace {

// What a (partial) set is worth: more value first, then less VRAM.
struct Worth {
  double value = 0;
  double vram_mb = 0;
};

bool better(const Worth& a, const Worth& b) {
  return a.value > b.value || (a.value == b.value && a.vram_mb < b.vram_mb);
}

bool same(const Worth& a, const Worth& b) { return a.value == b.value && a.vram_mb == b.vram_mb; }

// The items' sizes, which do not change from hour to hour of a schedule:
// computed once, used for every hour's values.
struct Sizes {
  std::span<const double> vram_mb;
  std::vector<int> weight;      // VRAM in budget units, rounded up; per item
  std::vector<size_t> by_vram;  // the items that fit the budget, by VRAM, then index
};

Sizes sizes_of(std::span<const double> vram_mb, double budget_mb) {
  Sizes sizes{vram_mb, std::vector<int>(vram_mb.size(), 0), {}};
  if (!(budget_mb >= 0)) return sizes;  // NaN or negative: nothing fits
  const double unit = budget_mb / kScheduleGranularity;
  for (size_t i = 0; i < vram_mb.size(); ++i) {
    const double vram = vram_mb[i];
    if (!std::isfinite(vram) || vram < 0 || vram > budget_mb) continue;
    int weight = 0;
    if (vram > 0) {
      weight = static_cast<int>(std::min<double>(std::ceil(vram / unit), kScheduleGranularity));
      // Rounding of the division must never make a model smaller than it is.
      if (weight < kScheduleGranularity && weight * unit < vram) ++weight;
    }
    sizes.weight[i] = weight;
    sizes.by_vram.push_back(i);
  }
  // Stable: equal VRAM keeps index order. Weights grow with VRAM.
  std::stable_sort(sizes.by_vram.begin(), sizes.by_vram.end(),
                   [&](size_t a, size_t b) { return vram_mb[a] < vram_mb[b]; });
  return sizes;
}

// The items of one hour that may be chosen (value > 0 and finite, VRAM
// within the budget), by VRAM, then value descending, then index: the order
// in which every item that can dominate another comes before it.
std::vector<size_t> eligible_by_vram(std::span<const double> values, const Sizes& sizes) {
  std::vector<size_t> eligible;
  eligible.reserve(sizes.by_vram.size());
  for (size_t first = 0; first < sizes.by_vram.size();) {
    const double vram = sizes.vram_mb[sizes.by_vram[first]];
    const size_t group = eligible.size();
    size_t last = first;
    for (; last < sizes.by_vram.size() && sizes.vram_mb[sizes.by_vram[last]] == vram; ++last) {
      const double value = values[sizes.by_vram[last]];
      if (value > 0 && std::isfinite(value)) eligible.push_back(sizes.by_vram[last]);
    }
    // Within equal VRAM, by value descending; stable keeps index order.
    if (eligible.size() - group > 1) {
      std::stable_sort(eligible.begin() + static_cast<std::ptrdiff_t>(group), eligible.end(),
                       [&](size_t a, size_t b) { return values[a] > values[b]; });
    }
    first = last;
  }
  return eligible;
}

// Drops every item that k better-or-equal items dominate (value >=, VRAM <=,
// earlier in the order value desc, VRAM asc, index asc), k being the most
// items a set within the budget can hold. An optimal set holding such an
// item lacks one of its dominators (it holds at most k - 1 other items), and
// swapping them gives a set within the budget that is better or earlier in
// the tie order: a contradiction. `eligible` is in eligible_by_vram's order,
// in which an item's dominators are exactly the items before it of value >=
// its own: it is dominated when the k-th largest value before it is >= its
// own. Returns the survivors in index order.
std::vector<size_t> drop_dominated(std::span<const size_t> eligible, std::span<const double> values,
                                   const Sizes& sizes) {
  // Weights grow with VRAM: the smallest come first.
  size_t most_items = 0;
  for (int total = 0; most_items < eligible.size(); ++most_items) {
    total += sizes.weight[eligible[most_items]];
    if (total > kScheduleGranularity) break;
  }
  // The most_items largest values seen so far, smallest on top.
  std::priority_queue<double, std::vector<double>, std::greater<>> largest;
  std::vector<size_t> kept;
  for (const size_t item : eligible) {
    const double value = values[item];
    // most_items >= 1: every eligible item fits the budget alone.
    if (largest.size() < most_items || largest.top() < value) {
      kept.push_back(item);
      largest.push(value);
      if (largest.size() > most_items) largest.pop();
    }
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

// choose_within_budget with the sizes computed.
std::vector<size_t> choose(std::span<const double> values, const Sizes& sizes) {
  const std::vector<size_t> eligible = eligible_by_vram(values, sizes);
  int64_t total_weight = 0;
  for (const size_t item : eligible) total_weight += sizes.weight[item];
  if (total_weight <= kScheduleGranularity) {  // everything fits: every value is > 0
    std::vector<size_t> all(eligible);
    std::sort(all.begin(), all.end());
    return all;
  }
  const std::vector<size_t> items = drop_dominated(eligible, values, sizes);
  const size_t n = items.size();
  constexpr size_t kColumns = kScheduleGranularity + 1;
  // best[c]: the best set of the items processed so far within c units;
  // take[i][c]: whether that set holds item i. Items are processed from the
  // last to the first and a tie takes the item, so that the set read back
  // from the first item on is the earliest of the optimal ones. Columns
  // past the weight of the items processed (`filled`) all hold the same
  // set, that of every item: they are filled only as the weight grows.
  std::vector<Worth> best(kColumns);
  std::vector<uint8_t> take(n * kColumns, 0);
  std::vector<size_t> filled_after(n + 1, 0);  // columns computed once items i.. are in
  size_t filled = 0;
  for (size_t i = n; i-- > 0;) {
    const size_t weight = static_cast<size_t>(sizes.weight[items[i]]);
    const size_t reach = std::min(kColumns - 1, filled + weight);
    for (size_t c = filled + 1; c <= reach; ++c) best[c] = best[filled];
    const Worth item{values[items[i]], sizes.vram_mb[items[i]]};
    for (size_t c = reach + 1; c-- > weight;) {
      const Worth with{best[c - weight].value + item.value,
                       best[c - weight].vram_mb + item.vram_mb};
      if (better(with, best[c]) || same(with, best[c])) {
        best[c] = with;
        take[i * kColumns + c] = 1;
      }
    }
    filled = reach;
    filled_after[i] = filled;
  }
  std::vector<size_t> chosen;
  size_t capacity = kScheduleGranularity;
  for (size_t i = 0; i < n; ++i) {
    // Past the filled columns, the set is that of the last filled one.
    capacity = std::min(capacity, filled_after[i]);
    if (take[i * kColumns + capacity] == 0) continue;
    chosen.push_back(items[i]);
    capacity -= static_cast<size_t>(sizes.weight[items[i]]);
  }
  return chosen;
}

}  // namespace

std::vector<size_t> choose_within_budget(std::span<const KnapsackItem> items, double budget_mb) {
  std::vector<double> values(items.size());
  std::vector<double> vram(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    values[i] = items[i].value;
    vram[i] = items[i].vram_mb;
  }
  return choose(values, sizes_of(vram, budget_mb));
}

double expected_cold_starts(double expected_uses) {
  if (!(expected_uses > 0)) return 0;
  return -std::expm1(-expected_uses / kSlotsPerHour) * kSlotsPerHour;
}

std::vector<HourPlan> plan_schedule(std::span<const ScheduleCandidate> candidates, double budget_mb,
                                    TaskPool& pool) {
  std::vector<HourPlan> plan(kHoursPerWeek);
  std::vector<double> vram(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) vram[i] = candidates[i].vram_mb;
  const Sizes sizes = sizes_of(vram, budget_mb);
  pool.for_each(kHoursPerWeek, [&](size_t hour) {
    std::vector<double> values(candidates.size());
    for (size_t i = 0; i < candidates.size(); ++i) {
      values[i] = candidates[i].expected_loads[hour] * candidates[i].load_time_ms;
    }
    HourPlan& hour_plan = plan[hour];
    hour_plan.hour_of_week = static_cast<int>(hour);
    hour_plan.models = choose(values, sizes);
    for (size_t i : hour_plan.models) {
      hour_plan.expected_saved_ms += values[i];
      hour_plan.vram_mb += vram[i];
    }
  });
  return plan;
}

std::vector<KeepAliveWindow> keep_alive_windows(std::span<const HourPlan> plan, size_t candidates) {
  std::vector<std::array<bool, kHoursPerWeek>> planned(candidates);
  std::vector<bool> seen(candidates, false);
  for (const HourPlan& hour : plan) {
    if (hour.hour_of_week < 0 || hour.hour_of_week >= kHoursPerWeek) continue;
    for (size_t model : hour.models) {
      if (model >= candidates) continue;
      planned[model][static_cast<size_t>(hour.hour_of_week)] = true;
      seen[model] = true;
    }
  }
  std::vector<KeepAliveWindow> windows;
  for (size_t model = 0; model < candidates; ++model) {
    if (!seen[model]) continue;
    const std::array<bool, kHoursPerWeek>& in = planned[model];
    KeepAliveWindow window{model, {}};
    for (int hour = 0; hour < kHoursPerWeek;) {
      if (!in[static_cast<size_t>(hour)]) {
        ++hour;
        continue;
      }
      const int start = hour;
      while (hour < kHoursPerWeek && in[static_cast<size_t>(hour)]) ++hour;
      window.hours.emplace_back(start, hour);
    }
    // A range ending Sunday 24:00 and one starting Monday 00:00 are one range.
    if (window.hours.size() > 1 && window.hours.front().first == 0 &&
        window.hours.back().second == kHoursPerWeek) {
      window.hours.back().second = window.hours.front().second;
      window.hours.erase(window.hours.begin());
    }
    windows.push_back(std::move(window));
  }
  return windows;
}

}  // namespace genalytics
