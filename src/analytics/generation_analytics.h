// The generation analytics of seed 001, answered from the hourly rollups
// (merged, never averaged) and, for one user, from that user's raw events.
// Every result is the JSON document the API returns and the CLI prints.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "analytics/window.h"
#include "rollup/rollup_bucket.h"
#include "store/store.h"

namespace genalytics {

enum class TrendInterval : uint8_t { kHourly, kDaily };

// Parses "hourly" / "daily"; throws InvalidArgument("interval", ...).
TrendInterval parse_trend_interval(const std::string& text);

// Thread-safe (the store is). Throws StoreError on I/O failure.
class GenerationAnalytics {
 public:
  explicit GenerationAnalytics(const Store& store) : store_(store) {}

  // Totals, rates and latency percentiles over the window, plus the window.
  boost::json::object overview(const TimeWindow& window) const;

  // `data_points[]`, one per hour or UTC day of the window (empty ones as
  // zeros), each with `timestamp` (bucket start) and the overview's fields.
  boost::json::object trends(const TimeWindow& window, TrendInterval interval) const;

  // The overview of one user's events plus failure_breakdown, models_used and
  // last_generation_at; zeros for a user without events.
  // Throws InvalidArgument("user_id") when `user_id` is not a UUID.
  boost::json::object user(const std::string& user_id, const TimeWindow& window) const;

  // `models[]` per model_checkpoint, by total_generations (completions) desc.
  boost::json::object models(const TimeWindow& window) const;

  // `error_types[]` by count desc and `failure_trends[]` per UTC day.
  boost::json::object failures(const TimeWindow& window) const;

  // `peak_hours[]` for the 24 UTC hours and the 7x24 day-of-week matrix.
  boost::json::object peak_hours(const TimeWindow& window) const;

 private:
  RollupBucket merge_all(const TimeWindow& window, const RollupColumns& columns) const;

  const Store& store_;
};

// The overview's fields for the events summarised by `bucket`.
boost::json::object bucket_to_json(const RollupBucket& bucket);

// {"start", "end", "hours"} of the window.
boost::json::object window_to_json(const TimeWindow& window);

}  // namespace genalytics
