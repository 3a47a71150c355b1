#include "analytics/cache_planning.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>

#include "analytics/rates.h"
#include "event/query_params_json.h"
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

std::optional<int64_t> integer_param(const QueryParams& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  const std::string& text = it->second;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

}  // namespace

bool is_cacheable_method(std::string_view method) { return method == "GET" || method == "HEAD"; }

bool is_templated_route(std::string_view route) { return route.find('{') != std::string_view::npos; }

std::vector<std::string> cache_keys_for(const std::string& route,
                                        const std::string& query_params_normalized_json, int pages) {
  const QueryParams params = parse_query_params_json(query_params_normalized_json).value_or(QueryParams{});
  const std::vector<std::pair<std::string, std::string>> sorted(params.begin(), params.end());
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
  const QueryParams params = parse_query_params_json(query_params_json).value_or(QueryParams{});
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

std::optional<double> CacheReplayTally::hit_rate() const {
  return ratio(static_cast<double>(hits), static_cast<double>(requests));
}

std::optional<double> CacheSimulation::latency_saved_rate(const CacheReplayTally& tally) const {
  return ratio(tally.latency_saved_ms, total.request_time_ms);
}

CacheSimulation CachePlanner::simulate(const TimeWindow& window,
                                       const std::vector<RouteGroupStats>& plan,
                                       const CachePlanOptions& options, int ttl_seconds) const {
  CacheSimulation result{window, ttl_seconds, {}, {}};
  result.routes.reserve(plan.size());
  std::map<GroupKey, size_t> planned;
  for (size_t i = 0; i < plan.size(); ++i) {
    const RouteGroupStats& group = plan[i];
    const bool cacheable = is_cacheable_method(group.method);
    result.routes.push_back(
        {group.route, group.method, group.query_params_normalized_json, cacheable, {}});
    // An unsafe method (POST, ...) is never answered from a cache.
    if (cacheable) planned[{group.route, group.method, group.query_params_normalized_json}] = i;
  }
  CacheReplayTally& total = result.total;
  std::unordered_map<std::string, int64_t> filled_at;  // cache key -> fill time
  const int64_t ttl_us = int64_t{ttl_seconds} * kMicrosPerSecond;
  store_.scan_route_events(window.start_us, window.end_us, [&](const RouteEvent& e) {
    ++total.requests;
    total.request_time_ms += static_cast<double>(e.duration_ms);
    auto it = planned.find({e.route, e.method, e.query_params_normalized_json});
    if (it == planned.end() || requested_page(e.query_params_json) > options.pages_to_cache_per_route) return;
    CacheReplayTally& group = result.routes[it->second].tally;
    ++group.requests;
    group.request_time_ms += static_cast<double>(e.duration_ms);
    // The cache key is the concrete request: method and full URL.
    const std::string key = e.method + " " + e.route_full;
    auto [slot, inserted] = filled_at.try_emplace(key, e.timestamp_us);
    if (!inserted && e.timestamp_us - slot->second < ttl_us) {
      ++group.hits;
      ++total.hits;
      group.latency_saved_ms += static_cast<double>(e.duration_ms);
      total.latency_saved_ms += static_cast<double>(e.duration_ms);
    } else {
      slot->second = e.timestamp_us;  // a miss fills (or refreshes) the entry
    }
  });
  return result;
}

}  // namespace genalytics
