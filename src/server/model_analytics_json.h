// Model analytics (issue 10) as the API's documents and the report's CSV,
// with analytics_json.h's rounding rules: rates to 4 decimals, durations to
// whole milliseconds, times as RFC 3339. `genalytics models ... -f json`
// prints the same documents.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "analytics/model_analytics.h"

namespace genalytics {

boost::json::object to_json(const ModelUsageStats& stats);
// {"window", "models": [...]}, models by uses desc.
boost::json::object to_json(const ModelUsageReport& report);
// {"window", "cleanup", "preload", "performance", "reclaimable_bytes",
// "schedule"}: the lists the kind asked for, all three without one.
boost::json::object to_json(const ModelRecommendations& recommendations);
boost::json::object to_json(const ModelSimulationReport& simulation);
// {"models": [...]}: the inventory with each model's workers and "loaded".
boost::json::object to_json(const std::vector<ModelListEntry>& models);
boost::json::object to_json(const ModelListEntry& model);

// The whole report: {"generated_at", "window", "summary", "models",
// "recommendations"}.
boost::json::object model_report_json(const ModelUsageReport& usage,
                                      const ModelRecommendations& recommendations,
                                      int64_t now_us);
// The report as CSV (RFC 4180, a header row, one row per model, the
// recommendations of each model in one column).
std::string model_report_csv(const ModelUsageReport& usage,
                             const ModelRecommendations& recommendations);

}  // namespace genalytics
