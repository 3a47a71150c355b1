// The generation analytics of seed 001, answered from the hourly rollups
// (merged, never averaged) and, for one user, from that user's raw events.
// Results are typed figures: unrounded fractions (nullopt when there is
// nothing to divide by) and milliseconds; server/analytics_json.h turns them
// into the documents the API returns and the CLI prints.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analytics/window.h"
#include "rollup/rollup_bucket.h"
#include "store/store.h"

namespace genalytics {

enum class TrendInterval : uint8_t { kHourly, kDaily };

// Parses "hourly" / "daily"; throws InvalidArgument("interval", ...).
TrendInterval parse_trend_interval(const std::string& text);

// The figures of a set of generation events (README, "Definitions").
// Durations are over completions; the averages of queue wait and generation
// time over the completions that carry them.
struct GenerationSummary {
  int64_t total_requests = 0;
  int64_t successful_generations = 0;
  int64_t failed_generations = 0;
  int64_t cancelled_generations = 0;
  std::optional<double> success_rate;  // successful / completions
  std::optional<double> avg_duration_ms;
  std::optional<double> p50_duration_ms;
  std::optional<double> p95_duration_ms;
  std::optional<double> p99_duration_ms;
  std::optional<double> avg_queue_wait_ms;
  std::optional<double> avg_generation_time_ms;
  uint64_t unique_users = 0;  // 0 when the bucket was read without users
  int64_t total_images_generated = 0;

  int64_t completions() const { return successful_generations + failed_generations; }
};

// The summary of the events `bucket` holds.
GenerationSummary summarize(const RollupBucket& bucket);

struct GenerationOverview {
  TimeWindow window;
  GenerationSummary summary;
};

struct TrendPoint {
  int64_t start_us = 0;  // the hour's or the UTC day's start (clipped days keep the day's start)
  GenerationSummary summary;
};

struct GenerationTrends {
  TimeWindow window;
  TrendInterval interval = TrendInterval::kHourly;
  std::vector<TrendPoint> points;  // every hour or day of the window, empty ones as zeros
};

struct NamedCount {
  std::string name;
  int64_t count = 0;
};

struct UserGenerations {
  TimeWindow window;
  std::string user_id;  // canonical
  GenerationSummary summary;
  std::vector<NamedCount> failures_by_error_type;  // by count desc, then name
  std::vector<NamedCount> completions_by_model;    // by count desc, then name
  std::optional<int64_t> last_event_us;            // of any of the user's events in the window
};

struct ModelStats {
  std::string model_checkpoint;
  GenerationSummary summary;  // without unique_users (0)
};

struct ModelReport {
  TimeWindow window;
  std::vector<ModelStats> models;  // by completions desc, then name
};

struct ErrorTypeStats {
  std::string error_type;
  int64_t count = 0;  // failed completions
  std::optional<double> avg_duration_ms;
  uint64_t affected_users = 0;
  std::vector<std::string> sample_messages;
};

struct DailyFailures {
  int64_t day_us = 0;  // start of the UTC day
  int64_t failures = 0;
  int64_t completions = 0;
  std::optional<double> failure_rate;  // failures / completions
};

struct FailureReport {
  TimeWindow window;
  int64_t total_failures = 0;
  int64_t total_completions = 0;
  std::optional<double> failure_rate;
  std::vector<ErrorTypeStats> error_types;   // by count desc, then name
  std::vector<DailyFailures> failure_trends;  // every UTC day the window touches
};

struct HourOfDayStats {
  // Requests per hour of the window with this hour of day, traffic or not;
  // nullopt when the window holds no such hour.
  std::optional<double> avg_requests;
  int64_t total_requests = 0;
  std::optional<double> p95_duration_ms;
  std::optional<double> success_rate;
};

struct PeakHours {
  TimeWindow window;
  std::optional<int> peak_hour;  // the hour of day with the highest avg_requests (first on ties)
  std::array<HourOfDayStats, 24> hours;  // by UTC hour of day
  // avg_requests per [day of week, Sunday = 0][hour of day], as in `hours`.
  std::array<std::array<std::optional<double>, 24>, 7> weekly_avg_requests;
};

// Thread-safe (the store is). Throws StoreError on I/O failure.
class GenerationAnalytics {
 public:
  explicit GenerationAnalytics(const Store& store) : store_(store) {}

  // Totals, rates and latency percentiles over the window.
  GenerationOverview overview(const TimeWindow& window) const;

  // One point per hour or UTC day of the window.
  GenerationTrends trends(const TimeWindow& window, TrendInterval interval) const;

  // The summary of one user's events plus failures by error type, completions
  // by model and the last event; zeros for a user without events.
  // Throws InvalidArgument("user_id") when `user_id` is not a UUID.
  UserGenerations user(const std::string& user_id, const TimeWindow& window) const;

  // Per model_checkpoint.
  ModelReport models(const TimeWindow& window) const;

  // Per error type, and failures per UTC day.
  FailureReport failures(const TimeWindow& window) const;

  // Per UTC hour of day and per (day of week, hour).
  PeakHours peak_hours(const TimeWindow& window) const;

 private:
  RollupBucket merge_all(const TimeWindow& window, const RollupColumns& columns) const;

  const Store& store_;
};

}  // namespace genalytics
