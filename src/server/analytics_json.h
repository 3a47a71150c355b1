// The one place analytics results become JSON: the documents the API returns
// and `genalytics cache-analysis -f json` prints. Numbers are rounded here
// and only here: ratios twice, `<name>` as a fraction to 4 decimals and
// `<name>_pct` as a percentage to 2 (null when undefined); durations of
// generations and route percentiles to whole milliseconds.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <vector>

#include "analytics/cache_planning.h"
#include "analytics/generation_analytics.h"
#include "analytics/route_analytics.h"

namespace genalytics {

// Whole milliseconds, or null: how every answer writes a duration.
boost::json::value ms_or_null(const std::optional<double>& ms);

// The fraction rounded to 4 decimals (0.9132); nullopt stays nullopt.
std::optional<double> rounded_rate(const std::optional<double>& fraction);
// 100 x the fraction rounded to 2 decimals (91.32): the same figure as
// rounded_rate's.
std::optional<double> rounded_pct(const std::optional<double>& fraction);

// {"start", "end", "hours"}.
boost::json::object to_json(const TimeWindow& window);

// The overview's fields followed by "window".
boost::json::object to_json(const GenerationOverview& overview);
// {"interval", "window", "data_points": [{"timestamp", overview fields}]}.
boost::json::object to_json(const GenerationTrends& trends);
// The overview's fields, "user_id", "failure_breakdown", "models_used",
// "last_generation_at", "window".
boost::json::object to_json(const UserGenerations& user);
// {"window", "models": [...]}.
boost::json::object to_json(const ModelReport& report);
// {"window", "total_failures", "total_completions", "failure_rate",
// "failure_rate_pct", "error_types", "failure_trends"}.
boost::json::object to_json(const FailureReport& report);
// {"window", "days", "peak_hour", "peak_hours", "day_of_week_matrix"}.
boost::json::object to_json(const PeakHours& peak);

// {"window", "order", "routes"}.
boost::json::object to_json(const RouteOverview& overview);
// {"window", "hours", "route"}.
boost::json::object to_json(const RoutePeakHours& peak);
// {"window", "route", "patterns"}.
boost::json::object to_json(const RoutePatterns& patterns);

// The rows of a cache plan in the mode's seed format, plus success_rate_pct,
// total_requests, cacheable and cache_keys: what the CLI prints.
boost::json::array cache_plan_rows_json(const std::vector<RouteGroupStats>& plan, CachePlanMode mode);
// {"mode", "window", "routes": cache_plan_rows_json}: what the API returns.
boost::json::object cache_plan_json(const TimeWindow& window, const std::vector<RouteGroupStats>& plan,
                                    CachePlanMode mode);
// {"ttl_seconds", "window": {"start", "end"}, "total", "routes"}.
boost::json::object to_json(const CacheSimulation& simulation);

}  // namespace genalytics
