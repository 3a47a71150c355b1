// Cache planning (seed 002, sections 6, 8 and 9): which (route, method,
// normalised parameters) groups to cache, by absolute thresholds (System 1)
// or by relative percentiles (System 2), and a replay of the recorded hits
// against such a plan. The CLI and the API both call this; results are typed
// figures (unrounded), made JSON by server/analytics_json.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "analytics/window.h"
#include "store/store.h"

namespace genalytics {

enum class CachePlanMode : uint8_t { kAbsolute, kRelative };

struct CachePlanOptions {
  CachePlanMode mode = CachePlanMode::kAbsolute;
  int top_n = 20;                    // config cache-planning.top-n-routes
  double min_requests = 10;          // System 1: avg requests per hour
  double min_latency_ms = 100;       // System 1: p95 in ms
  int pages_to_cache_per_route = 1;  // config cache-planning.pages-to-cache-per-route
};

// One candidate group with the seed's figures over the window.
struct RouteGroupStats {
  std::string route;
  std::string method;
  std::string query_params_normalized_json;
  int64_t total_requests = 0;
  double avg_hourly_requests = 0;   // total_requests / window hours
  double avg_p95_latency_ms = 0;    // p95 of the window's merged sketch
  double avg_unique_users = 0;      // mean over the window's hours of each hour's distinct users
  double success_rate = 0;          // 2xx share
  // Whether a cache may answer it: safe methods (GET, HEAD) only. Unsafe
  // groups stay in the ranking (seed 002 ranks them) with no cache_keys.
  bool cacheable = false;
  // System 1.
  double cache_priority_score = 0;
  // System 2.
  double priority_score = 0;
  double popularity_percentile = 0;
  double latency_percentile = 0;
  double user_percentile = 0;
  // The concrete URLs to warm, at most pages_to_cache_per_route: a pattern's
  // first pages (cache_keys_for), or for a templated route such as
  // /api/v1/content/{id} its most requested URLs in the window (route_full,
  // most calls first, ties by URL). Empty when not cacheable.
  std::vector<std::string> cache_keys;
};

// Requests replayed against a cache plan, and what the cache answered.
struct CacheReplayTally {
  int64_t requests = 0;
  int64_t hits = 0;
  double latency_saved_ms = 0;  // the hits' durations
  double request_time_ms = 0;   // every request's duration

  std::optional<double> hit_rate() const;  // hits / requests
};

// One planned group's replay.
struct CacheGroupReplay {
  std::string route;
  std::string method;
  std::string query_params_normalized_json;
  bool cacheable = false;
  CacheReplayTally tally;  // its requests within the planned pages
};

struct CacheSimulation {
  TimeWindow window;
  int ttl_seconds = 0;
  CacheReplayTally total;  // every request of the window
  std::vector<CacheGroupReplay> routes;  // in plan order

  // A latency saving as a share of all request time in the window.
  std::optional<double> latency_saved_rate(const CacheReplayTally& tally) const;
};

// Thread-safe (the store is). Throws StoreError.
class CachePlanner {
 public:
  explicit CachePlanner(const Store& store) : store_(store) {}

  // The ranked groups, best first, at most options.top_n. Reads the window's
  // raw events when a ranked cacheable group has a templated route.
  std::vector<RouteGroupStats> plan(const TimeWindow& window, const CachePlanOptions& options) const;

  // Replays the window's hits in time order against `plan` with a cache of
  // `ttl_seconds` and reports hits and latency saved, per planned group and
  // in total. Only cacheable groups' requests (up to the planned pages) can
  // hit; an unsafe method's group reports no cacheable requests.
  CacheSimulation simulate(const TimeWindow& window, const std::vector<RouteGroupStats>& plan,
                           const CachePlanOptions& options, int ttl_seconds) const;

 private:
  using GroupKey = std::tuple<std::string, std::string, std::string>;  // route, method, params

  // Fills the cache_keys of `groups` (templated routes) with their `count`
  // most requested URLs in the window.
  void add_most_requested_urls(const TimeWindow& window, int count,
                               const std::map<GroupKey, RouteGroupStats*>& groups) const;

  const Store& store_;
};

// Safe methods, which a cache may answer: GET and HEAD.
bool is_cacheable_method(std::string_view method);

// Whether a stored route holds a template ("{id}") instead of concrete ids.
bool is_templated_route(std::string_view route);

// The URLs to warm for a group: page 1 is the pattern's URL itself (no
// pagination parameter); page k > 1 adds page=k. Keys are sorted,
// percent-encoded.
std::vector<std::string> cache_keys_for(const std::string& route,
                                        const std::string& query_params_normalized_json, int pages);

// The page a request asks for: its `page` parameter, else offset / limit + 1,
// else 2 when it carries a cursor, else 1.
int64_t requested_page(const std::string& query_params_json);

}  // namespace genalytics
