// Route analytics beyond cache planning: top routes by traffic, latency and
// errors; a route's hour-of-day profile; a route's popular parameter
// patterns (seed 002's "popular query patterns" query, from merged rollups).
// Results are typed figures (unrounded); server/analytics_json.h turns them
// into the API's documents.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "analytics/window.h"
#include "event/route_normalizer.h"
#include "store/store.h"

namespace genalytics {

// What the route overview ranks by.
enum class RouteOrder : uint8_t { kRequests, kLatency, kErrors };

// "requests", "latency" (p95) or "errors" (4xx + 5xx); throws
// InvalidArgument("order", ...) otherwise.
RouteOrder parse_route_order(std::string_view text);
std::string_view route_order_name(RouteOrder order);

// One (route, method) over the window.
struct RouteStats {
  std::string route;
  std::string method;
  int64_t total_requests = 0;
  int64_t successful_requests = 0;  // 2xx
  int64_t redirects = 0;            // 3xx
  int64_t client_errors = 0;        // 4xx
  int64_t server_errors = 0;        // 5xx
  std::optional<double> error_rate;  // (4xx + 5xx) / requests
  std::optional<double> avg_duration_ms;
  std::optional<double> p50_duration_ms;
  std::optional<double> p95_duration_ms;
  std::optional<double> p99_duration_ms;
  uint64_t unique_users = 0;
  std::optional<double> avg_request_size_bytes;
  std::optional<double> avg_response_size_bytes;
  std::optional<double> avg_db_query_count;
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
};

struct RouteOverview {
  TimeWindow window;
  RouteOrder order = RouteOrder::kRequests;
  std::vector<RouteStats> routes;  // by the order's measure desc, ties by (route, method)
};

struct RouteHourStats {
  // Requests per hour of the window with this hour of day, traffic or not;
  // nullopt when the window holds no such hour.
  std::optional<double> avg_requests;
  int64_t total_requests = 0;
  std::optional<double> p95_duration_ms;
};

struct RoutePeakHours {
  TimeWindow window;
  std::optional<std::string> route;  // the stored form of the route asked for; nullopt: all routes
  std::array<RouteHourStats, 24> hours;  // by UTC hour of day
};

// One normalised parameter set of a route.
struct RoutePattern {
  std::string method;
  std::string query_params_normalized_json;  // as stored: a compact JSON object
  int64_t total_requests = 0;
  std::optional<double> avg_duration_ms;
  std::optional<double> p95_duration_ms;
  uint64_t unique_users = 0;
};

struct RoutePatterns {
  TimeWindow window;
  std::string route;  // the stored form of the route asked for
  std::vector<RoutePattern> patterns;  // by requests desc, ties by (method, parameters)
};

// A route a caller names ("/api/v1/content/12345?page=2") is looked up the
// way ingest stored it: without its query string, ids templated as
// `normalization` says ("/api/v1/content/{id}"); answers name that route.
// Thread-safe (the store is). Throws StoreError.
class RouteAnalytics {
 public:
  // `normalization` must be the one ingest used (config "route-analytics").
  explicit RouteAnalytics(const Store& store, RouteNormalization normalization = {})
      : store_(store), normalization_(std::move(normalization)) {}

  // Per (route, method), ordered by `order`, at most `limit`.
  // REQUIRES: limit >= 0.
  RouteOverview overview(const TimeWindow& window, RouteOrder order, int limit) const;

  // Per UTC hour of day; of one route when given.
  RoutePeakHours peak_hours(const TimeWindow& window, const std::optional<std::string>& route) const;

  // The parameter patterns of one route, at most `limit`.
  // REQUIRES: limit >= 0.
  RoutePatterns patterns(const TimeWindow& window, const std::string& route, int limit) const;

  // The stored form of the route a caller names.
  std::string lookup_route(std::string_view route) const;

 private:
  const Store& store_;
  const RouteNormalization normalization_;
};

}  // namespace genalytics
