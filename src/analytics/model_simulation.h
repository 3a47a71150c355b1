// The proof that the preload schedule beats a fixed rule (issue 10): the
// window's model uses replayed in time order against one pool of VRAM (one
// GPU) under several policies side by side, walk-forward: our schedule at
// each hour is fitted only on what came before it.
//
// Rules, the same for every policy:
// - A use of a model that is loaded is a warm hit. A use of a model that is
//   not loaded is a cold start costing its load_time_ms, after which the
//   model is loaded, evicting others as the policy chooses until it fits.
//   A model larger than the budget is a cold start every time and never
//   stays loaded.
// - At each hour's start (start_us, start_us + 1 h, ...) a policy may load
//   and unload at no cost to requests (hour_start_loads counts those loads).
// - Loaded VRAM never exceeds the budget: sizes are accounted in whole KiB,
//   each model's rounded up and the budget rounded down, in integers.
// - lru, lfu and keep_alive_5m start from the state that replaying
//   `history` under their own rule leaves; ours and belady start empty and
//   make their first hour-start loads at start_us.
//
// Policies, in the order of SimResult::policies:
// - ours: at each hour start, per model, the expected uses in that hour
//   (its rate), fitted only on the uses before it (history and the window
//   so far): a recency-weighted mean of its uses in that hour of week over
//   the weeks observed (each past hour weighs 2^(-age / kOursHalfLifeDays)),
//   shrunk toward the model's weighted mean for that hour of day (worth
//   kOursHourOfDayPriorWeeks weeks of that hour), so that a model seen for
//   less than a week still has a daily profile. Its expected cold starts
//   if left out, expected_cold_starts(rate) (model_schedule.h: the expected
//   5-minute slots with a use); choose_within_budget over (expected cold
//   starts x load_time_ms, vram_mb) gives the hour's plan, whose models are
//   loaded; other loaded models stay unless the plan needs their room, and
//   when the room the plan leaves holds every other model seen before, they
//   are loaded too. On
//   demand (and to make that room) it evicts the loaded model whose absence
//   is expected to cost the least load time per hour (rate x
//   load_time_ms, unsaturated) per MB it frees, ties to the least recently
//   used.
// - lru: evicts the least recently used; no hour-start action.
// - lfu: evicts the least frequently used (uses counted over the history and
//   the window so far), ties to the least recently used; no hour-start action.
// - keep_alive_5m: a model is unloaded kKeepAliveUs after its last use
//   (Ollama's default; a use exactly 5 minutes after the last one is cold);
//   on demand it evicts the least recently used when the budget requires.
// - belady: clairvoyant. At each hour start it loads the models whose next
//   use is soonest, in that order, each one that still fits. On demand it
//   evicts the model whose next use is farthest (never used again first).
//   With models of equal VRAM this is the optimum of the rules above: no
//   policy has fewer cold starts. With unequal VRAM it is the classic
//   clairvoyant rule, a strong reference but not a proven bound (optimal
//   offline caching of unequal sizes is NP-hard).
// - actual (only when has_actual): a use is warm when its model is inside an
//   actual_loaded interval [start_us, end_us) at its timestamp; the others
//   are cold starts; load_seconds = actual_load_ms / 1000.
//
// Cost: O((H + U) log L + C x L + hours x (M log M + P x kScheduleGranularity))
// for H history and U window uses, L models loaded at once, C cold starts of
// ours, M models and P models left in an hour's knapsack (model_schedule.h:
// typically the few that could fit).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace genalytics {

inline constexpr int64_t kKeepAliveUs = int64_t{5} * 60 * 1'000'000;
inline constexpr double kOursHalfLifeDays = 14;
inline constexpr double kOursHourOfDayPriorWeeks = 1;

struct SimModel {
  std::string model_id;
  double load_time_ms = 0;  // what a cold start costs (p50 load time)
  double vram_mb = 0;       // what it takes when loaded (p95)
};

// One per model a request uses; `model` indexes SimInput::models.
struct SimUse {
  int64_t timestamp_us = 0;
  uint32_t model = 0;
};

struct SimLoadedInterval {
  uint32_t model = 0;
  int64_t start_us = 0;
  int64_t end_us = 0;
};

struct SimInput {
  std::vector<SimModel> models;
  std::vector<SimUse> history;  // uses before start_us (fitting only), in time order
  std::vector<SimUse> uses;     // uses in [start_us, end_us), in time order
  int64_t start_us = 0;         // hour aligned
  int64_t end_us = 0;           // hour aligned, >= start_us
  double budget_mb = 0;
  // Where the history's observation began (the hours ours counts as seen,
  // with or without uses): at most the first history use. nullopt: the hour
  // of the first history use, or start_us without history.
  std::optional<int64_t> history_start_us;
  // What really happened (from recorded load/unload events): intervals when
  // each model was loaded (on any worker; they may overlap) and the recorded
  // successful loads' durations in the window; empty when none.
  std::vector<SimLoadedInterval> actual_loaded;
  double actual_load_ms = 0;
  bool has_actual = false;
};

struct PolicyResult {
  std::string policy;  // "ours", "lru", "lfu", "keep_alive_5m", "belady", "actual"
  int64_t uses = 0;
  int64_t warm_hits = 0;
  int64_t cold_starts = 0;
  double load_seconds = 0;        // seconds requests waited for cold starts
  int64_t hour_start_loads = 0;   // loads made at hour starts (free for requests)
  double peak_vram_mb = 0;        // the most VRAM loaded at once (KiB-rounded; 0 for actual)
  double warm_hit_ratio() const;  // warm_hits / uses, 0 when none
};

struct SimResult {
  std::vector<PolicyResult> policies;  // in the order above; actual only when has_actual
};

// Throws InvalidArgument (analytics/errors.h) naming the field when the input
// breaks its contract: a model index out of range, uses out of time order or
// outside their period, unaligned or reversed start/end, a negative or
// non-finite budget, load time or VRAM, an interval with end < start.
SimResult simulate(const SimInput& input);

}  // namespace genalytics
