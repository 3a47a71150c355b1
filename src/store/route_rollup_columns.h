// The columns of route_analytics_hourly as both stores keep them: the seed's
// per-hour figures, derived from the mergeable state beside them on every
// write, and that state (counters, then the two sketches).
//
// Interface (stable; both stores build on it), as
// store/generation_rollup_columns.h:
//   kCounters, kCounterCount, counters(bucket)  the int64 state, in column order
//   kDurationSketch, kUsersHll                  the sketch columns, after the counters
//   kStateColumns, kStateColumnCount            every state column, in column order
//   read_state(row, first, table)               a RouteBucket from a result row
//   write_state(out, bucket)                    the state in column order, to binds or COPY
//   kDerived, derived_figures(bucket)           the seed's per-hour figures
//   write_derived(out, figures)                 those figures in kDerived order
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include "rollup/route_rollup.h"
#include "store/rollup_columns.h"

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

// The two sketches (bytes), in column order after the counters.
inline constexpr const char* kDurationSketch = "duration_sketch";
inline constexpr const char* kUsersHll = "users_hll";

// Every state column, in column order: kCounters, then the two sketches.
inline constexpr int kStateColumnCount = kCounterCount + 2;
inline constexpr auto kStateColumns = [] {
  std::array<const char*, kStateColumnCount> columns{};
  for (int i = 0; i < kCounterCount; ++i) columns[i] = kCounters[i];
  columns[kCounterCount] = kDurationSketch;
  columns[kCounterCount + 1] = kUsersHll;
  return columns;
}();
// RouteBucket's fields are exactly these columns; a new field needs one.
static_assert(kStateColumnCount == 16);

// The bucket whose state is in columns first .. first + kStateColumnCount - 1
// of a result row, in kStateColumns order. `row` answers, for a column i,
// int64(i) and bytes(i) (std::string or std::string_view). Throws
// StoreError(kCorrupt), naming `table`, when a sketch does not decode.
template <typename Row>
RouteBucket read_state(const Row& row, int first, std::string_view table) {
  RouteBucket b;
  int i = first;
  for (int64_t* field : counters(b)) *field = row.int64(i++);
  b.durations = rollup_columns::decode_durations(row.bytes(i++), table);
  b.users = rollup_columns::decode_users(row.bytes(i), table);
  return b;
}

// Writes the state of `b` in kStateColumns order to `out`, which takes
// int64(int64_t) and bytes(std::string): a statement's binds or a COPY row.
template <typename Out>
void write_state(Out& out, const RouteBucket& b) {
  for (const int64_t* field : counters(b)) out.int64(*field);
  out.bytes(b.durations.serialize());
  out.bytes(b.users.serialize());
}

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

static_assert(std::tuple_size_v<decltype(DerivedFigures::integers)> + 1 == std::size(kDerived));

inline DerivedFigures derived_figures(const RouteBucket& b) {
  using rollup_columns::rounded;
  return {{rounded(b.avg_duration_ms()), rounded(b.durations.quantile(0.50)),
           rounded(b.durations.quantile(0.95)), rounded(b.durations.quantile(0.99)),
           static_cast<int64_t>(b.users.estimate()), rounded(b.avg_request_size_bytes()),
           rounded(b.avg_response_size_bytes())},
          b.avg_db_query_count()};
}

// Writes `figures` in kDerived order to `out`, which takes
// optional_int64(std::optional<int64_t>) and optional_double(std::optional<double>).
template <typename Out>
void write_derived(Out& out, const DerivedFigures& figures) {
  for (const std::optional<int64_t>& value : figures.integers) out.optional_int64(value);
  out.optional_double(figures.avg_db_query_count);
}

}  // namespace genalytics::route_columns
