// Route analytics beyond cache planning: top routes by traffic, latency and
// errors; a route's hour-of-day profile; a route's popular parameter
// patterns (seed 002's "popular query patterns" query, from merged rollups).
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "analytics/window.h"
#include "event/route_normalizer.h"
#include "store/store.h"

namespace genalytics {

// A route a caller names ("/api/v1/content/12345?page=2") is looked up the
// way ingest stored it: without its query string, ids templated as
// `normalization` says ("/api/v1/content/{id}"); answers name that route.
class RouteAnalytics {
 public:
  // `normalization` must be the one ingest used (config "route-analytics").
  explicit RouteAnalytics(const Store& store, RouteNormalization normalization = {})
      : store_(store), normalization_(std::move(normalization)) {}

  // `routes[]` per (route, method): requests, status classes, error_rate and
  // error_rate_pct, p50/p95/p99, unique users, average sizes and db queries;
  // ordered by `order` ("requests", "latency" = p95, or "errors" = 4xx + 5xx), at most
  // `limit`. Throws InvalidArgument for an unknown order.
  boost::json::object overview(const TimeWindow& window, const std::string& order, int limit) const;

  // `hours[]` for the 24 UTC hours: avg_requests (per hour of the window
  // with that hour of day, traffic or not) and p95; for one route when given.
  boost::json::object peak_hours(const TimeWindow& window, const std::optional<std::string>& route) const;

  // `patterns[]` of one route: each normalised parameter set with its
  // requests, average and p95 duration, by requests desc, at most `limit`.
  boost::json::object patterns(const TimeWindow& window, const std::string& route, int limit) const;

  // The stored form of the route a caller names.
  std::string lookup_route(std::string_view route) const;

 private:
  const Store& store_;
  const RouteNormalization normalization_;
};

}  // namespace genalytics
