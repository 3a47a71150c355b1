#include "analytics/model_schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <queue>

namespace genalytics {
namespace {

struct Eligible {
  size_t index = 0;
  double value = 0;
  double vram_mb = 0;
  int weight = 0;  // VRAM in budget units, rounded up
};

// What a (partial) set is worth: more value first, then less VRAM.
struct Worth {
  double value = 0;
  double vram_mb = 0;
};

bool better(const Worth& a, const Worth& b) {
  return a.value > b.value || (a.value == b.value && a.vram_mb < b.vram_mb);
}

bool same(const Worth& a, const Worth& b) { return a.value == b.value && a.vram_mb == b.vram_mb; }

// The items that may be chosen, with their rounded weights.
std::vector<Eligible> eligible_items(std::span<const KnapsackItem> items, double budget_mb) {
  std::vector<Eligible> eligible;
  const double unit = budget_mb / kScheduleGranularity;
  for (size_t i = 0; i < items.size(); ++i) {
    const KnapsackItem& item = items[i];
    if (!(item.value > 0) || !std::isfinite(item.value)) continue;
    if (!(item.vram_mb >= 0) || !(item.vram_mb <= budget_mb)) continue;
    int weight = 0;
    if (item.vram_mb > 0) {
      weight =
          static_cast<int>(std::min<double>(std::ceil(item.vram_mb / unit), kScheduleGranularity));
      // Rounding of the division must never make a model smaller than it is.
      if (weight < kScheduleGranularity && weight * unit < item.vram_mb) ++weight;
    }
    eligible.push_back({i, item.value, item.vram_mb, weight});
  }
  return eligible;
}

// Drops every item that k better-or-equal items dominate (value >=, VRAM <=,
// earlier in the order value desc, VRAM asc, index asc), k being the most
// items a set within the budget can hold. An optimal set holding such an
// item lacks one of its dominators (it holds at most k - 1 other items), and
// swapping them gives a set within the budget that is better or earlier in
// the tie order: a contradiction. Keeps the survivors in index order.
// REQUIRES: the items do not all fit at once.
void drop_dominated(std::vector<Eligible>& items) {
  std::vector<int> weights;
  weights.reserve(items.size());
  for (const Eligible& item : items) weights.push_back(item.weight);
  std::sort(weights.begin(), weights.end());
  size_t most_items = 0;
  for (int total = 0; most_items < weights.size(); ++most_items) {
    total += weights[most_items];
    if (total > kScheduleGranularity) break;
  }
  std::sort(items.begin(), items.end(), [](const Eligible& a, const Eligible& b) {
    if (a.value != b.value) return a.value > b.value;
    if (a.vram_mb != b.vram_mb) return a.vram_mb < b.vram_mb;
    return a.index < b.index;
  });
  std::priority_queue<double> smallest_vram;  // the most_items smallest VRAMs seen so far
  std::vector<Eligible> kept;
  for (const Eligible& item : items) {
    // most_items >= 1: every eligible item fits the budget alone.
    const bool dominated =
        smallest_vram.size() == most_items && smallest_vram.top() <= item.vram_mb;
    if (!dominated) kept.push_back(item);
    smallest_vram.push(item.vram_mb);
    if (smallest_vram.size() > most_items) smallest_vram.pop();
  }
  std::sort(kept.begin(), kept.end(),
            [](const Eligible& a, const Eligible& b) { return a.index < b.index; });
  items = std::move(kept);
}

}  // namespace

std::vector<size_t> choose_within_budget(std::span<const KnapsackItem> items, double budget_mb) {
  std::vector<Eligible> eligible = eligible_items(items, budget_mb);
  int64_t total_weight = 0;
  for (const Eligible& item : eligible) total_weight += item.weight;
  if (total_weight <= kScheduleGranularity) {  // everything fits: every value is > 0
    std::vector<size_t> all;
    all.reserve(eligible.size());
    for (const Eligible& item : eligible) all.push_back(item.index);
    return all;
  }
  drop_dominated(eligible);
  const size_t n = eligible.size();
  constexpr size_t kColumns = kScheduleGranularity + 1;
  // best[c]: the best set of the items processed so far within c units;
  // take[i][c]: whether that set holds item i. Items are processed from the
  // last to the first and a tie takes the item, so that the set read back
  // from the first item on is the earliest of the optimal ones.
  std::vector<Worth> best(kColumns);
  std::vector<uint8_t> take(n * kColumns, 0);
  for (size_t i = n; i-- > 0;) {
    const Eligible& item = eligible[i];
    const size_t weight = static_cast<size_t>(item.weight);
    for (size_t c = kColumns; c-- > weight;) {
      const Worth with{best[c - weight].value + item.value,
                       best[c - weight].vram_mb + item.vram_mb};
      if (better(with, best[c]) || same(with, best[c])) {
        best[c] = with;
        take[i * kColumns + c] = 1;
      }
    }
  }
  std::vector<size_t> chosen;
  size_t capacity = kScheduleGranularity;
  for (size_t i = 0; i < n; ++i) {
    if (take[i * kColumns + capacity] == 0) continue;
    chosen.push_back(eligible[i].index);
    capacity -= static_cast<size_t>(eligible[i].weight);
  }
  return chosen;
}

double expected_cold_starts(double expected_uses) {
  if (!(expected_uses > 0)) return 0;
  return -std::expm1(-expected_uses / kSlotsPerHour) * kSlotsPerHour;
}

std::vector<HourPlan> plan_schedule(std::span<const ScheduleCandidate> candidates,
                                    double budget_mb) {
  std::vector<HourPlan> plan(kHoursPerWeek);
  std::vector<KnapsackItem> items(candidates.size());
  for (int hour = 0; hour < kHoursPerWeek; ++hour) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      const ScheduleCandidate& candidate = candidates[i];
      items[i] = {candidate.expected_loads[static_cast<size_t>(hour)] * candidate.load_time_ms,
                  candidate.vram_mb};
    }
    HourPlan& hour_plan = plan[static_cast<size_t>(hour)];
    hour_plan.hour_of_week = hour;
    hour_plan.models = choose_within_budget(items, budget_mb);
    for (size_t i : hour_plan.models) {
      hour_plan.expected_saved_ms += items[i].value;
      hour_plan.vram_mb += items[i].vram_mb;
    }
  }
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
