// The columns of route_analytics_hourly as both stores keep them: the seed's
// per-hour figures, derived from the mergeable state beside them on every
// write, and that state (counters, then the two sketches).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>

#include "rollup/route_rollup.h"

namespace genalytics::route_columns {

// The counters of a RouteBucket, in column order. The first four and the
// last two are seed columns that are also state.
inline constexpr const char* kCounters[] = {
    "total_requests",      "successful_requests", "redirects",          "client_errors",
    "server_errors",       "duration_sum",        "request_size_count", "request_size_sum",
    "response_size_count", "response_size_sum",   "db_query_requests",  "db_query_sum",
    "cache_hits",          "cache_misses"};
inline constexpr int kCounterCount = static_cast<int>(std::size(kCounters));

// Pointers to the fields of `bucket` (RouteBucket or const RouteBucket) that
// kCounters name, in the same order.
template <typename Bucket>
auto counters(Bucket& bucket) {
  return std::array{
      &bucket.requests,           &bucket.successful,       &bucket.redirects,
      &bucket.client_errors,      &bucket.server_errors,    &bucket.duration_sum,
      &bucket.request_size_count, &bucket.request_size_sum, &bucket.response_size_count,
      &bucket.response_size_sum,  &bucket.db_query_count,   &bucket.db_query_sum,
      &bucket.cache_hits,         &bucket.cache_misses};
}
static_assert(std::tuple_size_v<decltype(counters(std::declval<RouteBucket&>()))> == kCounterCount);

// The seed's columns that only the derived figures fill.
inline constexpr const char* kDerived[] = {
    "avg_duration_ms", "p50_duration_ms",        "p95_duration_ms",         "p99_duration_ms",
    "unique_users",    "avg_request_size_bytes", "avg_response_size_bytes", "avg_db_query_count"};

// The values of kDerived for one hour's merged state; every one but the last
// is an integer (rounded), as in the seed.
struct DerivedFigures {
  std::array<std::optional<int64_t>, 7> integers;
  std::optional<double> avg_db_query_count;
};

inline DerivedFigures derived_figures(const RouteBucket& b) {
  auto rounded = [](const std::optional<double>& value) -> std::optional<int64_t> {
    if (!value) return std::nullopt;
    return static_cast<int64_t>(std::llround(*value));
  };
  return {{rounded(b.avg_duration_ms()), rounded(b.durations.quantile(0.50)),
           rounded(b.durations.quantile(0.95)), rounded(b.durations.quantile(0.99)),
           static_cast<int64_t>(b.users.estimate()), rounded(b.avg_request_size_bytes()),
           rounded(b.avg_response_size_bytes())},
          b.avg_db_query_count()};
}

}  // namespace genalytics::route_columns
