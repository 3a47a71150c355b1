#include "analytics/route_analytics.h"

#include <algorithm>
#include <map>

#include "analytics/rates.h"
#include "event/time.h"

namespace genalytics {

RouteOrder parse_route_order(std::string_view text) {
  if (text == "requests") return RouteOrder::kRequests;
  if (text == "latency") return RouteOrder::kLatency;
  if (text == "errors") return RouteOrder::kErrors;
  throw InvalidArgument("order", "order must be requests, latency or errors");
}

std::string_view route_order_name(RouteOrder order) {
  switch (order) {
    case RouteOrder::kRequests: return "requests";
    case RouteOrder::kLatency: return "latency";
    case RouteOrder::kErrors: return "errors";
  }
  return "requests";
}

RouteOverview RouteAnalytics::overview(const TimeWindow& window, RouteOrder order, int limit) const {
  std::map<std::pair<std::string, std::string>, RouteBucket> routes;
  for (const RouteRollupRow& row : store_.read_route_rollups(window.start_us, window.end_us, std::nullopt)) {
    routes[{row.key.route, row.key.method}].merge(row.bucket);
  }
  std::vector<std::pair<const std::pair<std::string, std::string>*, const RouteBucket*>> sorted;
  sorted.reserve(routes.size());
  for (const auto& [key, bucket] : routes) sorted.emplace_back(&key, &bucket);
  auto measure = [order](const RouteBucket& b) -> double {
    if (order == RouteOrder::kLatency) return b.durations.quantile(0.95).value_or(0);
    if (order == RouteOrder::kErrors) return static_cast<double>(b.client_errors + b.server_errors);
    return static_cast<double>(b.requests);
  };
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const auto& a, const auto& b) { return measure(*a.second) > measure(*b.second); });
  if (sorted.size() > static_cast<size_t>(limit)) sorted.resize(limit);
  RouteOverview result{window, order, {}};
  result.routes.reserve(sorted.size());
  for (const auto& [key, b] : sorted) {
    RouteStats& s = result.routes.emplace_back();
    s.route = key->first;
    s.method = key->second;
    s.total_requests = b->requests;
    s.successful_requests = b->successful;
    s.redirects = b->redirects;
    s.client_errors = b->client_errors;
    s.server_errors = b->server_errors;
    s.error_rate = ratio(static_cast<double>(b->client_errors + b->server_errors),
                         static_cast<double>(b->requests));
    s.avg_duration_ms = b->avg_duration_ms();
    s.p50_duration_ms = b->durations.quantile(0.50);
    s.p95_duration_ms = b->durations.quantile(0.95);
    s.p99_duration_ms = b->durations.quantile(0.99);
    s.unique_users = b->users.estimate();
    s.avg_request_size_bytes = b->avg_request_size_bytes();
    s.avg_response_size_bytes = b->avg_response_size_bytes();
    s.avg_db_query_count = b->avg_db_query_count();
    s.cache_hits = b->cache_hits;
    s.cache_misses = b->cache_misses;
  }
  return result;
}

RoutePeakHours RouteAnalytics::peak_hours(const TimeWindow& window,
                                          const std::optional<std::string>& route) const {
  std::array<int64_t, 24> slots{};
  for (int64_t t = window.start_us; t < window.end_us; t += kMicrosPerHour) ++slots[hour_of_day(t)];
  RoutePeakHours result;
  result.window = window;
  if (route) result.route = lookup_route(*route);
  std::array<RouteBucket, 24> by_hour;
  for (const RouteRollupRow& row : store_.read_route_rollups(window.start_us, window.end_us, result.route)) {
    by_hour[hour_of_day(row.key.hour_us)].merge(row.bucket);
  }
  for (int h = 0; h < 24; ++h) {
    result.hours[h] = {ratio(static_cast<double>(by_hour[h].requests), static_cast<double>(slots[h])),
                       by_hour[h].requests, by_hour[h].durations.quantile(0.95)};
  }
  return result;
}

RoutePatterns RouteAnalytics::patterns(const TimeWindow& window, const std::string& route,
                                       int limit) const {
  RoutePatterns result{window, lookup_route(route), {}};
  std::map<std::pair<std::string, std::string>, RouteBucket> patterns;  // (method, params)
  for (const RouteRollupRow& row : store_.read_route_rollups(window.start_us, window.end_us, result.route)) {
    patterns[{row.key.method, row.key.query_params_normalized_json}].merge(row.bucket);
  }
  std::vector<std::pair<const std::pair<std::string, std::string>*, const RouteBucket*>> sorted;
  sorted.reserve(patterns.size());
  for (const auto& [key, bucket] : patterns) sorted.emplace_back(&key, &bucket);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second->requests > b.second->requests; });
  if (sorted.size() > static_cast<size_t>(limit)) sorted.resize(limit);
  result.patterns.reserve(sorted.size());
  for (const auto& [key, b] : sorted) {
    result.patterns.push_back({key->first, key->second, b->requests, b->avg_duration_ms(),
                               b->durations.quantile(0.95), b->users.estimate()});
  }
  return result;
}

std::string RouteAnalytics::lookup_route(std::string_view route) const {
  return normalize_route(split_url(route).path, {}, normalization_).route;
}

}  // namespace genalytics
