// Model usage analytics and recommendations (seed 003, issue 10): per model,
// how much it is used and when, how well and how fast it runs, how it is
// loaded; which models can go (cleanup), which to keep loaded before users
// ask (preload, with a schedule under a VRAM budget), which are slow or
// broken (performance); and a walk-forward replay that compares the
// schedule with the fixed rules serving systems use (simulate).
//
// Everything but simulate is answered from the hourly model rollups
// (store/store.h: model_usage_hourly, model_param_hourly,
// model_lifecycle_hourly), the inventory and the workers' loaded state;
// simulate replays the window's generation requests. Results are typed and
// unrounded; server/analytics_json.h makes the API's documents.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "analytics/model_schedule.h"
#include "analytics/model_simulation.h"
#include "analytics/model_statistics.h"
#include "analytics/window.h"
#include "base/task_pool.h"
#include "store/store.h"

namespace genalytics {

inline constexpr int kDefaultModelWindowDays = 30;

// The thresholds and defaults of config section `model_analytics` (seed 003's
// values as defaults).
struct ModelAnalyticsConfig {
  // Cleanup: unused for longer than this, or fewer uses per day than this,
  // or a success rate whose Wilson upper bound is below this.
  double cleanup_unused_days = 30;
  double cleanup_min_uses_per_day = 0.1;
  double cleanup_min_success_rate = 0.5;
  // Confidence of a cleanup: the probability of no use in this many days.
  double cleanup_horizon_days = 30;
  // Preload: success rate over this and (uses per day over this, or rising).
  double preload_min_success_rate = 0.9;
  double preload_min_uses_per_day = 0.5;
  // The VRAM budget of the schedule and the simulation, in GB (GiB: 1024 MB).
  double vram_budget_gb = 24;
  // Performance: p50 generation time over this is slow; a success rate whose
  // Wilson upper bound is below this is low; p95/p50 over this is high
  // variance; p95 of the last regression_recent_days over regression_ratio
  // times the p95 of the rest of the window is a regression, when each side
  // has at least min_samples timed generations (also the minimum for the
  // variance figure).
  double slow_p50_ms = 300'000;
  double low_success_rate = 0.8;
  double variance_ratio = 3;
  double regression_ratio = 1.25;
  int regression_recent_days = 7;
  int64_t min_samples = 20;
  // What a model costs when nothing recorded it: its load time (from its
  // size at this rate plus the fixed part, or the fixed part alone) and VRAM.
  double default_load_time_ms = 5'000;
  double load_bytes_per_second = 1.5e9;
  double default_vram_mb = 4'096;
  // common_params: the top values kept per parameter key.
  int common_params_top = 5;
};

// One value of a generation parameter among a model's requests.
struct ParamValueStats {
  std::string value;
  int64_t count = 0;                             // requests naming the model with this value
  double share = 0;                              // of the requests carrying the key
  std::optional<double> avg_generation_time_ms;  // of completions carrying it
};

struct ModelUsageStats {
  std::string model_id;
  std::optional<std::string> model_kind;
  std::optional<std::string> base_model;
  std::optional<int64_t> size_bytes;
  std::optional<int64_t> first_seen_us;
  std::optional<int64_t> last_used_us;
  std::vector<std::string> loaded_on;  // workers holding it now ("" for unnamed)

  int64_t uses = 0;  // generation requests naming it, in the window
  double uses_per_day = 0;
  std::vector<int64_t> daily_uses;  // every UTC day of the window, zeros included
  int64_t first_day_us = 0;         // the day of daily_uses[0]
  Trend trend;                      // of daily_uses
  std::array<int64_t, kHoursPerWeek> hour_of_week_uses{};  // Monday 00:00 UTC first
  std::vector<int> peak_hours;  // up to 3 UTC hours of day, most uses first
  std::map<std::string, std::vector<ParamValueStats>> common_params;

  int64_t completions = 0;
  int64_t successes = 0;
  std::optional<double> success_rate;
  std::optional<Interval> success_interval;  // 95% Wilson
  std::optional<double> avg_generation_time_ms;
  std::optional<double> p50_generation_time_ms;
  std::optional<double> p95_generation_time_ms;
  int64_t timed_generations = 0;
  std::optional<double> p95_gpu_memory_mb;
  // p95 generation time of the last regression_recent_days of the window
  // and of the days before, with their timed completions.
  std::optional<double> recent_p95_generation_time_ms;
  std::optional<double> earlier_p95_generation_time_ms;
  int64_t recent_timed = 0;
  int64_t earlier_timed = 0;
  // "key=value" of parameter values at least 1.5 times slower on average
  // than the model's completions (each with min_samples / 4 timed, at
  // least 5), slowest first.
  std::vector<std::string> slow_params;

  int64_t loads = 0;
  int64_t load_failures = 0;
  std::optional<double> p50_load_time_ms;
  std::optional<double> p95_load_time_ms;
  std::optional<double> p95_loaded_gpu_memory_mb;  // from model_load events
  int64_t unloads = 0;
  int64_t downloads = 0;
  int64_t health_checks = 0;
  int64_t health_check_failures = 0;
};

struct ModelUsageReport {
  TimeWindow window;
  std::vector<ModelUsageStats> models;  // by uses desc, then model_id
};

enum class RecommendationKind : uint8_t { kCleanup, kPreload, kPerformance };
// "cleanup", "preload", "performance"; parse throws InvalidArgument("kind").
std::string_view to_string(RecommendationKind kind);
RecommendationKind parse_recommendation_kind(std::string_view text);

struct CleanupRecommendation {
  std::string model_id;
  std::optional<std::string> model_kind;
  // P(no use in the next cleanup_horizon_days) under the Gamma-Poisson
  // posterior of its rate shrunk toward the fleet; for a model recommended
  // only for its success rate, P(true rate < threshold) under Beta(1+s, 1+f).
  double confidence = 0;
  std::string_view priority;      // "high", "medium", "low"
  int64_t space_saved_bytes = 0;  // 0 when its size is unknown
  std::vector<std::string> reasons;
  int64_t uses = 0;
  double uses_per_day = 0;
  std::optional<int64_t> last_used_us;
};

struct PreloadRecommendation {
  std::string model_id;
  double uses_per_day = 0;
  std::optional<double> success_rate;
  Trend trend;
  std::vector<int> peak_hours;
  std::optional<NextUse> next_use;
  // Hours of week to keep it loaded ([start, end) ranges, may wrap), from
  // the schedule; empty when the budget never admits it.
  std::vector<std::pair<int, int>> keep_loaded_hours;
  std::vector<std::string> reasons;
};

struct PerformanceRecommendation {
  std::string model_id;
  std::string_view issue;  // "slow", "low_success", "high_variance", "regressed"
  std::vector<std::pair<std::string, double>> evidence;  // figure name -> value
  std::vector<std::string> slow_params;  // "key=value" whose completions are slowest
  std::string suggestion;
};

// The preload schedule: per hour of week, the models to keep loaded.
struct PreloadSchedule {
  double budget_mb = 0;
  struct Hour {
    int hour_of_week = 0;
    std::vector<std::string> models;  // by model_id
    double expected_saved_ms = 0;
    double vram_mb = 0;
  };
  std::vector<Hour> hours;  // 168, Monday 00:00 UTC first
  struct KeepAlive {
    std::string model_id;
    std::vector<std::pair<int, int>> hours;  // [start, end) hour-of-week ranges, may wrap
  };
  std::vector<KeepAlive> keep_alive;  // by model_id, models in the plan only
};

struct ModelRecommendations {
  TimeWindow window;
  std::optional<RecommendationKind> kind;              // only that list filled when given
  std::vector<CleanupRecommendation> cleanup;          // by priority, confidence desc, space desc
  std::vector<PreloadRecommendation> preload;          // by uses per day desc
  std::vector<PerformanceRecommendation> performance;  // by model_id, issue
  int64_t reclaimable_bytes = 0;                       // sum of cleanup's space_saved_bytes
  std::optional<PreloadSchedule> schedule;             // with preload (or no kind)
};

struct ModelSimulationReport {
  TimeWindow window;
  double budget_mb = 0;
  int64_t requests = 0;  // generation requests replayed
  size_t models = 0;
  SimResult result;
};

// One model of the inventory with its loaded state.
struct ModelListEntry {
  ModelRecord record;
  std::vector<ModelWorkerState> workers;  // by worker_id
  bool loaded() const;
};

// Thread-safe (the store is). Throws StoreError. The per-model statistics
// and the schedule's hours are computed on `pool`'s helpers beside the
// calling thread (TaskPool(0): on the caller alone).
class ModelAnalytics {
 public:
  ModelAnalytics(const Store& store, ModelAnalyticsConfig config,
                 TaskPool& pool = TaskPool::shared())
      : store_(store), config_(std::move(config)), pool_(pool) {}

  const ModelAnalyticsConfig& config() const { return config_; }

  // Every model used in the window or known to the inventory.
  ModelUsageReport usage(const TimeWindow& window) const;
  // One model; throws NotFound when neither the window nor the inventory
  // knows it.
  ModelUsageStats usage(const TimeWindow& window, const std::string& model_id) const;
  // `vram_budget_gb` defaults to the config's. REQUIRES: budget >= 0.
  ModelRecommendations recommendations(const TimeWindow& window,
                                       std::optional<RecommendationKind> kind,
                                       std::optional<double> vram_budget_gb, int64_t now_us) const;
  ModelSimulationReport simulate(const TimeWindow& window,
                                 std::optional<double> vram_budget_gb) const;
  // The inventory, by model_id.
  std::vector<ModelListEntry> list_models() const;
  // One model of the inventory; throws NotFound when it is not there.
  ModelListEntry find_model(const std::string& model_id) const;

  // The pure parts, for tests: the statistics of one model from its rows.
  static ModelUsageStats compute_stats(const TimeWindow& window, const std::string& model_id,
                                       std::span<const ModelUsageRow> usage,
                                       std::span<const ModelParamRow> params,
                                       std::span<const ModelLifecycleRow> lifecycle,
                                       const ModelAnalyticsConfig& config);

 private:
  struct Fleet;
  Fleet load_fleet(const TimeWindow& window, const std::optional<std::string>& model) const;
  // The statistics of `model_id`'s rows in `fleet` (common_params and
  // slow_params only `with_params`), with the inventory's description and
  // the loaded state.
  ModelUsageStats stats_of(const TimeWindow& window, const Fleet& fleet,
                           const std::string& model_id, bool with_params) const;
  // stats_of every model of `fleet`, by uses desc.
  ModelUsageReport report_of(const TimeWindow& window, const Fleet& fleet, bool with_params) const;

  const Store& store_;
  const ModelAnalyticsConfig config_;
  TaskPool& pool_;
};

}  // namespace genalytics
