// The hourly route rollup: one row per (hour, route, method,
// query_params_normalized), as seed 002's route_analytics_hourly, with a
// DDSketch of durations and a HyperLogLog of users so that windows merge.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "event/route_event.h"
#include "sketch/ddsketch.h"
#include "sketch/hyperloglog.h"

namespace genalytics {

struct RouteKey {
  int64_t hour_us = 0;  // start of the UTC hour
  std::string route;
  std::string method;
  std::string query_params_normalized_json;
  auto operator<=>(const RouteKey&) const = default;
};

struct RouteBucket {
  int64_t requests = 0;
  int64_t successful = 0;     // 2xx
  int64_t redirects = 0;      // 3xx
  int64_t client_errors = 0;  // 4xx
  int64_t server_errors = 0;  // 5xx
  int64_t duration_sum = 0;   // over every request
  DDSketch durations;         // every request's duration_ms
  HyperLogLog users;          // distinct user_ids
  int64_t request_size_count = 0;
  int64_t request_size_sum = 0;
  int64_t response_size_count = 0;
  int64_t response_size_sum = 0;
  int64_t db_query_count = 0;  // requests carrying db_query_count
  int64_t db_query_sum = 0;
  int64_t cache_hits = 0;      // cache_status "hit"
  int64_t cache_misses = 0;    // cache_status "miss"

  // Accounts for one event.
  void add(const RouteEvent& event);
  // After merge, this describes the union of both event sets.
  void merge(const RouteBucket& other);
  // Exact: every count, sum and sketch.
  bool operator==(const RouteBucket&) const = default;

  // Derived figures; nullopt when their denominator is zero.
  std::optional<double> avg_duration_ms() const;
  std::optional<double> avg_request_size_bytes() const;
  std::optional<double> avg_response_size_bytes() const;
  std::optional<double> avg_db_query_count() const;
  std::optional<double> success_rate() const;  // 2xx / requests
};

// The rollup changes of a set of route events, by key.
class RouteDelta {
 public:
  void add(const RouteEvent& event);
  const std::map<RouteKey, RouteBucket>& buckets() const { return buckets_; }
  bool empty() const { return buckets_.empty(); }

 private:
  std::map<RouteKey, RouteBucket> buckets_;
};

}  // namespace genalytics
