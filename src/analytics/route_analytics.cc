#include "analytics/route_analytics.h"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <map>

#include "analytics/rates.h"
#include "event/time.h"

namespace genalytics {
namespace {

boost::json::value optional_number(const std::optional<double>& v) {
  if (!v) return nullptr;
  return *v;
}

boost::json::value quantile_ms(const RouteBucket& b, double q) {
  auto v = b.durations.quantile(q);
  if (!v) return nullptr;
  return std::llround(*v);
}

boost::json::object window_json(const TimeWindow& w) {
  return {{"start", format_rfc3339_seconds(w.start_us)},
          {"end", format_rfc3339_seconds(w.end_us)},
          {"hours", w.hours()}};
}

boost::json::value parse_or_empty(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return boost::json::object();
  return v;
}

}  // namespace

boost::json::object RouteAnalytics::overview(const TimeWindow& window, const std::string& order,
                                             int limit) const {
  if (order != "requests" && order != "latency" && order != "errors") {
    throw InvalidArgument("order", "order must be requests, latency or errors");
  }
  std::map<std::pair<std::string, std::string>, RouteBucket> routes;
  for (const RouteRollupRow& row : store_.read_route_rollups(window.start_us, window.end_us, std::nullopt)) {
    routes[{row.key.route, row.key.method}].merge(row.bucket);
  }
  std::vector<std::pair<std::pair<std::string, std::string>, const RouteBucket*>> sorted;
  for (const auto& [key, bucket] : routes) sorted.emplace_back(key, &bucket);
  auto measure = [&](const RouteBucket& b) -> double {
    if (order == "latency") return b.durations.quantile(0.95).value_or(0);
    if (order == "errors") return static_cast<double>(b.client_errors + b.server_errors);
    return static_cast<double>(b.requests);
  };
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const auto& a, const auto& b) { return measure(*a.second) > measure(*b.second); });
  if (sorted.size() > static_cast<size_t>(limit)) sorted.resize(limit);
  boost::json::array out;
  for (const auto& [key, b] : sorted) {
    const double errors = static_cast<double>(b->client_errors + b->server_errors);
    out.push_back({{"route", key.first},
                   {"method", key.second},
                   {"total_requests", b->requests},
                   {"successful_requests", b->successful},
                   {"redirects", b->redirects},
                   {"client_errors", b->client_errors},
                   {"server_errors", b->server_errors},
                   {"error_rate", rate_json(ratio(errors, static_cast<double>(b->requests)))},
                   {"error_rate_pct", pct_json(ratio(errors, static_cast<double>(b->requests)))},
                   {"avg_duration_ms", optional_number(b->avg_duration_ms())},
                   {"p50_duration_ms", quantile_ms(*b, 0.50)},
                   {"p95_duration_ms", quantile_ms(*b, 0.95)},
                   {"p99_duration_ms", quantile_ms(*b, 0.99)},
                   {"unique_users", b->users.estimate()},
                   {"avg_request_size_bytes", optional_number(b->avg_request_size_bytes())},
                   {"avg_response_size_bytes", optional_number(b->avg_response_size_bytes())},
                   {"avg_db_query_count", optional_number(b->avg_db_query_count())},
                   {"cache_hits", b->cache_hits},
                   {"cache_misses", b->cache_misses}});
  }
  return {{"window", window_json(window)}, {"order", order}, {"routes", std::move(out)}};
}

boost::json::object RouteAnalytics::peak_hours(const TimeWindow& window,
                                               const std::optional<std::string>& route) const {
  std::array<int64_t, 24> slots{};
  for (int64_t t = window.start_us; t < window.end_us; t += kMicrosPerHour) ++slots[hour_of_day(t)];
  std::optional<std::string> looked_up;
  if (route) looked_up = lookup_route(*route);
  std::array<RouteBucket, 24> by_hour;
  for (const RouteRollupRow& row : store_.read_route_rollups(window.start_us, window.end_us, looked_up)) {
    by_hour[hour_of_day(row.key.hour_us)].merge(row.bucket);
  }
  boost::json::array hours;
  for (int h = 0; h < 24; ++h) {
    hours.push_back({{"hour_of_day", h},
                     {"avg_requests", slots[h] ? boost::json::value(static_cast<double>(by_hour[h].requests) /
                                                                    static_cast<double>(slots[h]))
                                               : nullptr},
                     {"total_requests", by_hour[h].requests},
                     {"p95_duration_ms", quantile_ms(by_hour[h], 0.95)}});
  }
  boost::json::object result{{"window", window_json(window)}, {"hours", std::move(hours)}};
  result["route"] = looked_up ? boost::json::value(*looked_up) : nullptr;
  return result;
}

boost::json::object RouteAnalytics::patterns(const TimeWindow& window, const std::string& route,
                                             int limit) const {
  const std::string looked_up = lookup_route(route);
  std::map<std::pair<std::string, std::string>, RouteBucket> patterns;  // (method, params)
  for (const RouteRollupRow& row : store_.read_route_rollups(window.start_us, window.end_us, looked_up)) {
    patterns[{row.key.method, row.key.query_params_normalized_json}].merge(row.bucket);
  }
  std::vector<std::pair<std::pair<std::string, std::string>, const RouteBucket*>> sorted;
  for (const auto& [key, bucket] : patterns) sorted.emplace_back(key, &bucket);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second->requests > b.second->requests; });
  if (sorted.size() > static_cast<size_t>(limit)) sorted.resize(limit);
  boost::json::array out;
  for (const auto& [key, b] : sorted) {
    out.push_back({{"method", key.first},
                   {"query_params_normalized", parse_or_empty(key.second)},
                   {"total_requests", b->requests},
                   {"avg_duration_ms", optional_number(b->avg_duration_ms())},
                   {"p95_duration_ms", quantile_ms(*b, 0.95)},
                   {"unique_users", b->users.estimate()}});
  }
  return {{"window", window_json(window)}, {"route", looked_up}, {"patterns", std::move(out)}};
}

std::string RouteAnalytics::lookup_route(std::string_view route) const {
  return normalize_route(split_url(route).path, {}, normalization_).route;
}

}  // namespace genalytics
