// The preload schedule (issue 10): for a VRAM budget, per hour of week the
// set of models to keep loaded that maximises the expected load time saved,
// sum(expected cold starts avoided x p50 load time), within the budget; and the same
// plan as per-model keep-alive windows. Pure functions: the model analytics
// service and the policy simulator (model_simulation.h) feed them.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "analytics/model_statistics.h"
#include "base/task_pool.h"

namespace genalytics {

// The knapsack's VRAM resolution: the budget is cut into this many units
// and every model's VRAM is rounded UP to whole units, so a chosen set
// always fits the budget. The set is the exact optimum for the rounded
// sizes; rounding costs each model less than one unit, so it is at least as
// good as the exact optimum among sets of k models fitting within
// budget x (1 - k / kScheduleGranularity) (k = 10: within 1% of the budget).
inline constexpr int kScheduleGranularity = 1024;

// One thing that may be kept loaded.
struct KnapsackItem {
  double value = 0;    // what keeping it loaded is expected to save
  double vram_mb = 0;  // what it takes
};

// The indexes (ascending) of the items to keep within `budget_mb`: the
// largest total value, ties to the smaller total VRAM, then to the set whose
// ascending index list is smallest (lower indexes first). Items whose value
// is not > 0 or whose VRAM is over the budget (or not finite, or negative)
// are never chosen. The sum of the chosen VRAM is <= budget_mb.
// Time O(n log n + m x kScheduleGranularity), m being the items left after
// dropping each item that at least k better-or-equal items (value >=, VRAM
// <=, earlier in the tie order) dominate, k being the most items any set
// within the budget can hold: such an item is in no optimal set.
std::vector<size_t> choose_within_budget(std::span<const KnapsackItem> items, double budget_mb);

// A model left out of an hour's plan is loaded on demand at its first use
// and, when VRAM is contended, evicted again: an hour may cost it a cold
// start in each keep-alive slot it is used in. The hour is cut into
// kSlotsPerHour slots of 5 minutes (Ollama's default keep-alive).
inline constexpr int kSlotsPerHour = 12;

// The expected cold starts in an hour of a model left out of the plan, for
// Poisson arrivals of `expected_uses` in the hour: the expected number of
// slots with a use, kSlotsPerHour x (1 - e^(-expected_uses / kSlotsPerHour)).
// Below one use an hour it is about the probability of a use; it grows with
// the rate, so a model used a hundred times an hour is worth more than one
// used twice (P(use) alone calls both certain).
double expected_cold_starts(double expected_uses);

struct ScheduleCandidate {
  std::string model_id;
  // Per hour of week: expected_cold_starts of the model's expected uses.
  std::array<double, kHoursPerWeek> expected_loads{};
  double load_time_ms = 0;  // p50 load time: what a cold start costs
  double vram_mb = 0;       // p95 VRAM it takes when loaded
};

struct HourPlan {
  int hour_of_week = 0;
  std::vector<size_t> models;    // indexes into the candidates, ascending
  double expected_saved_ms = 0;  // sum of expected loads x load time of those
  double vram_mb = 0;            // sum of their VRAM
};

// For each hour of the week (168 entries, in order), the candidates to keep
// loaded: choose_within_budget over (expected_loads[h] x load_time_ms,
// vram_mb). Candidates over the budget or of value 0 in an hour are never
// chosen for it. The hours are planned on `pool`'s helpers beside the caller.
std::vector<HourPlan> plan_schedule(std::span<const ScheduleCandidate> candidates, double budget_mb,
                                    TaskPool& pool = TaskPool::shared());

// The hours of week one candidate is in the plan, as [start, end) ranges of
// hour of week, ascending by start, merged across the week boundary: a range
// with start > end runs through Monday 00:00 (e.g. {166, 2} is Sunday 22:00
// to Monday 02:00); every hour of the week is {0, 168}.
struct KeepAliveWindow {
  size_t model = 0;
  std::vector<std::pair<int, int>> hours;
};

// One window per candidate that is in at least one hour's plan, by
// candidate index; `candidates` is the number of candidates the plan indexes.
std::vector<KeepAliveWindow> keep_alive_windows(std::span<const HourPlan> plan, size_t candidates);

}  // namespace genalytics
