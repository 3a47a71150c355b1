#include "analytics/cache_planning.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>

#include "analytics/rates.h"
#include "event/time.h"

namespace genalytics {
namespace {

// 100 x (groups whose value <= v) / groups, as the seed's searchsorted(side='right').
std::vector<double> percentiles(const std::vector<double>& values) {
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> result;
  result.reserve(values.size());
  for (double v : values) {
    const auto at_most = std::upper_bound(sorted.begin(), sorted.end(), v) - sorted.begin();
    result.push_back(100.0 * static_cast<double>(at_most) / static_cast<double>(values.size()));
  }
  return result;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<int64_t> integer_param(const boost::json::object& params, std::string_view name) {
  const boost::json::value* v = params.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  const boost::json::string& text = v->get_string();
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

boost::json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

}  // namespace

bool is_cacheable_method(std::string_view method) { return method == "GET" || method == "HEAD"; }

bool is_templated_route(std::string_view route) { return route.find('{') != std::string_view::npos; }

std::vector<std::string> cache_keys_for(const std::string& route,
                                        const std::string& query_params_normalized_json, int pages) {
  const boost::json::object params = parse_object(query_params_normalized_json);
  std::vector<std::pair<std::string, std::string>> sorted;
  for (const auto& member : params) {
    const auto& v = member.value();
    sorted.emplace_back(std::string(member.key()),
                        v.is_string() ? std::string(v.get_string()) : boost::json::serialize(v));
  }
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> keys;
  for (int page = 1; page <= pages; ++page) {
    auto with_page = sorted;
    if (page > 1) {
      with_page.emplace_back("page", std::to_string(page));
      std::sort(with_page.begin(), with_page.end());
    }
    std::string key = route;
    for (size_t i = 0; i < with_page.size(); ++i) {
      key += i == 0 ? '?' : '&';
      key += percent_encode(with_page[i].first) + "=" + percent_encode(with_page[i].second);
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

int64_t requested_page(const std::string& query_params_json) {
  const boost::json::object params = parse_object(query_params_json);
  if (auto page = integer_param(params, "page")) return std::max<int64_t>(1, *page);
  auto offset = integer_param(params, "offset");
  auto limit = integer_param(params, "limit");
  if (offset && limit && *limit > 0) return std::max<int64_t>(0, *offset) / *limit + 1;
  if (params.contains("cursor")) return 2;
  return 1;
}

std::vector<RouteGroupStats> CachePlanner::plan(const TimeWindow& window,
                                                const CachePlanOptions& options) const {
  struct Accumulator {
    RouteBucket merged;
    double user_sum = 0;  // sum over hours of each hour's distinct users
  };
  std::map<GroupKey, Accumulator> groups;
  for (const RouteRollupRow& row : store_.read_route_rollups(window.start_us, window.end_us, std::nullopt)) {
    Accumulator& a = groups[{row.key.route, row.key.method, row.key.query_params_normalized_json}];
    a.merged.merge(row.bucket);
    a.user_sum += static_cast<double>(row.bucket.users.estimate());
  }
  const double hours = static_cast<double>(window.hours());
  std::vector<RouteGroupStats> stats;
  for (const auto& [key, a] : groups) {
    if (a.merged.requests == 0) continue;
    RouteGroupStats s;
    std::tie(s.route, s.method, s.query_params_normalized_json) = key;
    s.total_requests = a.merged.requests;
    s.avg_hourly_requests = static_cast<double>(a.merged.requests) / hours;
    s.avg_p95_latency_ms = a.merged.durations.quantile(0.95).value_or(0);
    s.avg_unique_users = a.user_sum / hours;
    s.success_rate = a.merged.success_rate().value_or(0);
    s.cache_priority_score = s.avg_hourly_requests * 10 + s.avg_p95_latency_ms / 100 +
                             std::min(s.avg_unique_users / 10, 10.0);
    stats.push_back(std::move(s));
  }

  if (options.mode == CachePlanMode::kAbsolute) {
    std::erase_if(stats, [&](const RouteGroupStats& s) {
      return s.avg_hourly_requests < options.min_requests || s.avg_p95_latency_ms < options.min_latency_ms;
    });
  } else if (!stats.empty()) {
    std::vector<double> requests, latency, users;
    for (const auto& s : stats) {
      requests.push_back(s.avg_hourly_requests);
      latency.push_back(s.avg_p95_latency_ms);
      users.push_back(s.avg_unique_users);
    }
    const auto pop = percentiles(requests), lat = percentiles(latency), usr = percentiles(users);
    for (size_t i = 0; i < stats.size(); ++i) {
      stats[i].popularity_percentile = pop[i];
      stats[i].latency_percentile = lat[i];
      stats[i].user_percentile = usr[i];
      stats[i].priority_score = 0.4 * lat[i] + 0.4 * pop[i] + 0.2 * usr[i];
    }
  }
  const bool absolute = options.mode == CachePlanMode::kAbsolute;
  // Highest score first; ties by traffic, then by key, so the order is stable.
  std::stable_sort(stats.begin(), stats.end(), [&](const RouteGroupStats& a, const RouteGroupStats& b) {
    const double sa = absolute ? a.cache_priority_score : a.priority_score;
    const double sb = absolute ? b.cache_priority_score : b.priority_score;
    if (sa != sb) return sa > sb;
    return a.total_requests > b.total_requests;
  });
  if (stats.size() > static_cast<size_t>(std::max(0, options.top_n))) stats.resize(options.top_n);
  std::map<GroupKey, RouteGroupStats*> templated;
  for (auto& s : stats) {
    s.cacheable = is_cacheable_method(s.method);
    if (!s.cacheable) continue;
    if (is_templated_route(s.route)) {
      templated[{s.route, s.method, s.query_params_normalized_json}] = &s;
    } else {
      s.cache_keys = cache_keys_for(s.route, s.query_params_normalized_json, options.pages_to_cache_per_route);
    }
  }
  if (!templated.empty()) add_most_requested_urls(window, options.pages_to_cache_per_route, templated);
  return stats;
}

// A template such as /api/v1/content/{id} cannot be warmed: its keys are the
// concrete URLs called most often.
void CachePlanner::add_most_requested_urls(const TimeWindow& window, int count,
                                           const std::map<GroupKey, RouteGroupStats*>& groups) const {
  if (count <= 0) return;
  for (const auto& [key, stats] : groups) {
    const auto& [route, method, params] = key;
    for (Store::UrlCount& url : store_.most_requested_urls(route, method, params, window.start_us,
                                                           window.end_us, static_cast<size_t>(count))) {
      stats->cache_keys.push_back(std::move(url.url));
    }
  }
}

boost::json::object to_json(const RouteGroupStats& s, CachePlanMode mode) {
  boost::system::error_code ec;
  boost::json::value params = boost::json::parse(s.query_params_normalized_json, ec);
  if (ec) params = boost::json::object();
  boost::json::array keys;
  for (const auto& k : s.cache_keys) keys.emplace_back(k);
  boost::json::object o{{"route", s.route},
                        {"method", s.method},
                        {"query_params_normalized", std::move(params)},
                        {"avg_hourly_requests", s.avg_hourly_requests},
                        {"avg_p95_latency_ms", s.avg_p95_latency_ms},
                        {"avg_unique_users", s.avg_unique_users}};
  if (mode == CachePlanMode::kAbsolute) {
    o["cache_priority_score"] = s.cache_priority_score;
  } else {
    o["priority_score"] = s.priority_score;
    o["popularity_percentile"] = s.popularity_percentile;
    o["latency_percentile"] = s.latency_percentile;
    o["user_percentile"] = s.user_percentile;
  }
  o["success_rate"] = s.success_rate;
  o["success_rate_pct"] = pct_json(s.success_rate);
  o["total_requests"] = s.total_requests;
  o["cacheable"] = s.cacheable;
  o["cache_keys"] = std::move(keys);
  return o;
}

boost::json::object CachePlanner::plan_json(const TimeWindow& window,
                                             const CachePlanOptions& options) const {
  boost::json::array routes;
  for (const auto& s : plan(window, options)) routes.push_back(to_json(s, options.mode));
  return {{"mode", options.mode == CachePlanMode::kAbsolute ? "absolute" : "relative"},
          {"window", {{"start", format_rfc3339_seconds(window.start_us)},
                      {"end", format_rfc3339_seconds(window.end_us)},
                      {"hours", window.hours()}}},
          {"routes", std::move(routes)}};
}

boost::json::object CachePlanner::simulate(const TimeWindow& window,
                                           const std::vector<RouteGroupStats>& plan,
                                           const CachePlanOptions& options, int ttl_seconds) const {
  std::map<GroupKey, size_t> planned;
  for (size_t i = 0; i < plan.size(); ++i) {
    // An unsafe method (POST, ...) is never answered from a cache.
    if (!is_cacheable_method(plan[i].method)) continue;
    planned[{plan[i].route, plan[i].method, plan[i].query_params_normalized_json}] = i;
  }
  struct Tally {
    int64_t requests = 0, hits = 0;
    double saved_ms = 0, time_ms = 0;
  };
  std::vector<Tally> per_group(plan.size());
  Tally total;
  std::unordered_map<std::string, int64_t> filled_at;  // cache key -> fill time
  const int64_t ttl_us = int64_t{ttl_seconds} * kMicrosPerSecond;
  store_.scan_route_events(window.start_us, window.end_us, [&](const RouteEvent& e) {
    ++total.requests;
    total.time_ms += static_cast<double>(e.duration_ms);
    auto it = planned.find({e.route, e.method, e.query_params_normalized_json});
    if (it == planned.end() || requested_page(e.query_params_json) > options.pages_to_cache_per_route) return;
    Tally& group = per_group[it->second];
    ++group.requests;
    group.time_ms += static_cast<double>(e.duration_ms);
    // The cache key is the concrete request: method and full URL.
    const std::string key = e.method + " " + e.route_full;
    auto [slot, inserted] = filled_at.try_emplace(key, e.timestamp_us);
    if (!inserted && e.timestamp_us - slot->second < ttl_us) {
      ++group.hits;
      ++total.hits;
      group.saved_ms += static_cast<double>(e.duration_ms);
      total.saved_ms += static_cast<double>(e.duration_ms);
    } else {
      slot->second = e.timestamp_us;  // a miss fills (or refreshes) the entry
    }
  });
  auto hit_rate = [](const Tally& t) {
    return ratio(static_cast<double>(t.hits), static_cast<double>(t.requests));
  };
  auto saved = [&](const Tally& t) { return ratio(t.saved_ms, total.time_ms); };
  boost::json::array routes;
  for (size_t i = 0; i < plan.size(); ++i) {
    const Tally& t = per_group[i];
    boost::system::error_code ec;
    boost::json::value params = boost::json::parse(plan[i].query_params_normalized_json, ec);
    routes.push_back({{"route", plan[i].route},
                      {"method", plan[i].method},
                      {"query_params_normalized", ec ? boost::json::value(boost::json::object()) : params},
                      {"cacheable_requests", t.requests},
                      {"cacheable", is_cacheable_method(plan[i].method)},
                      {"hits", t.hits},
                      {"hit_rate", rate_json(hit_rate(t))},
                      {"hit_rate_pct", pct_json(hit_rate(t))},
                      {"latency_saved_ms", t.saved_ms},
                      {"latency_saved_rate", rate_json(saved(t))},
                      {"latency_saved_pct", pct_json(saved(t))}});
  }
  return {{"ttl_seconds", ttl_seconds},
          {"window", {{"start", format_rfc3339_seconds(window.start_us)},
                      {"end", format_rfc3339_seconds(window.end_us)}}},
          {"total", {{"requests", total.requests},
                     {"hits", total.hits},
                     {"hit_rate", rate_json(hit_rate(total))},
                     {"hit_rate_pct", pct_json(hit_rate(total))},
                     {"latency_saved_ms", total.saved_ms},
                     {"latency_saved_rate", rate_json(saved(total))},
                     {"latency_saved_pct", pct_json(saved(total))},
                     {"request_time_ms", total.time_ms}}},
          {"routes", std::move(routes)}};
}

}  // namespace genalytics
