// The columns of the generation rollup tables as both stores keep them:
// generation_metrics_hourly (one row per hour) and generation_dimension_hourly
// (one row per dimension, hour and value) share the mergeable state of a
// RollupBucket; the hourly table adds the seed's per-hour figures, derived
// from that state on every write.
//
// Interface (stable; both stores build on it):
//   kCounters, kCounterCount, counters(bucket)  the int64 state, in column order
//   kDurationSketch, kUsersHll, kSampleMessages the other state columns, after the counters
//   kStateColumns, kStateColumnCount            every state column, in column order
//   state_select_list(columns, prefix, suffix)  the state columns to SELECT (NULL: left out)
//   read_state(row, first, table)               a RollupBucket from a result row
//   write_state(out, bucket)                    the state in column order, to binds or COPY
//   kDerived, derived_figures(bucket)           generation_metrics_hourly's seed figures
//   write_derived(out, figures)                 those figures in kDerived order
// Shared helpers (rounded, column_list, assignments, placeholders) are in
// store/rollup_columns.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "rollup/rollup_bucket.h"
#include "store/rollup_columns.h"
#include "store/sample_messages.h"
#include "store/store.h"

namespace genalytics::generation_columns {

// The counters of a RollupBucket, in column order. The first six are seed
// columns of generation_metrics_hourly that are also state.
inline constexpr const char* kCounters[] = {
    "total_requests",        "successful_generations", "failed_generations",
    "cancelled_generations", "max_queue_length",       "total_images_generated",
    "start_events",          "event_count",            "duration_count",
    "duration_sum",          "queue_wait_count",       "queue_wait_sum",
    "generation_time_count", "generation_time_sum",    "queue_length_count",
    "queue_length_sum"};
inline constexpr int kCounterCount = static_cast<int>(std::size(kCounters));

// Pointers to the fields of `bucket` (RollupBucket or const RollupBucket)
// that kCounters name, in the same order.
template <typename Bucket>
auto counters(Bucket& bucket) {
  return std::array{&bucket.requests,         &bucket.successes,
                    &bucket.failures,         &bucket.cancellations,
                    &bucket.queue_length_max, &bucket.images,
                    &bucket.starts,           &bucket.event_count,
                    &bucket.duration_count,   &bucket.duration_sum,
                    &bucket.queue_wait_count, &bucket.queue_wait_sum,
                    &bucket.generation_time_count, &bucket.generation_time_sum,
                    &bucket.queue_length_count, &bucket.queue_length_sum};
}
static_assert(std::tuple_size_v<decltype(counters(std::declval<RollupBucket&>()))> ==
              kCounterCount);

// The state beyond the counters, in column order after them: the DDSketch
// (bytes), the HyperLogLog (bytes) and the sample messages (JSON text, see
// store/sample_messages.h).
inline constexpr const char* kDurationSketch = "duration_sketch";
inline constexpr const char* kUsersHll = "users_hll";
inline constexpr const char* kSampleMessages = "sample_messages";

// Every state column, in column order: kCounters, then the three above.
inline constexpr int kStateColumnCount = kCounterCount + 3;
inline constexpr auto kStateColumns = [] {
  std::array<const char*, kStateColumnCount> columns{};
  for (int i = 0; i < kCounterCount; ++i) columns[i] = kCounters[i];
  columns[kCounterCount] = kDurationSketch;
  columns[kCounterCount + 1] = kUsersHll;
  columns[kCounterCount + 2] = kSampleMessages;
  return columns;
}();
// RollupBucket's fields are exactly these columns; a new field needs one.
static_assert(kStateColumnCount == 19);

// The state columns to SELECT, in column order, each after `prefix`; a part
// that `columns` leaves out reads as NULL. `messages_suffix` follows the
// sample_messages column (PostgreSQL reads its JSONB as text with "::text").
inline std::string state_select_list(const RollupColumns& columns, std::string_view prefix = "",
                                     std::string_view messages_suffix = "") {
  std::string list = rollup_columns::column_list(kCounters, prefix);
  auto part = [&](bool wanted, const char* column, std::string_view suffix) {
    list += ", ";
    if (!wanted) {
      list += "NULL";
      return;
    }
    list += prefix;
    list += column;
    list += suffix;
  };
  part(columns.durations, kDurationSketch, "");
  part(columns.users, kUsersHll, "");
  part(columns.sample_messages, kSampleMessages, messages_suffix);
  return list;
}

// The bucket whose state is in columns first .. first + kStateColumnCount - 1
// of a result row, as state_select_list lists them. `row` answers, for a
// column i, is_null(i), int64(i), bytes(i) and text(i) (the last two as
// std::string or std::string_view). A NULL sketch or messages column (left
// out of the select) leaves that part empty. Throws StoreError(kCorrupt),
// naming `table`, when a sketch or the messages do not decode.
template <typename Row>
RollupBucket read_state(const Row& row, int first, std::string_view table) {
  RollupBucket b;
  int i = first;
  for (int64_t* field : counters(b)) *field = row.int64(i++);
  if (!row.is_null(i)) b.durations = rollup_columns::decode_durations(row.bytes(i), table);
  ++i;
  if (!row.is_null(i)) b.users = rollup_columns::decode_users(row.bytes(i), table);
  ++i;
  if (!row.is_null(i)) b.sample_messages = decode_sample_messages(row.text(i));
  return b;
}

// Writes the state of `b` in column order to `out`, which takes
// int64(int64_t), bytes(std::string) and text(std::string): a statement's
// binds or a COPY row.
template <typename Out>
void write_state(Out& out, const RollupBucket& b) {
  for (const int64_t* field : counters(b)) out.int64(*field);
  out.bytes(b.durations.serialize());
  out.bytes(b.users.serialize());
  out.text(encode_sample_messages(b.sample_messages));
}

// The seed's columns of generation_metrics_hourly that only the derived
// figures fill.
inline constexpr const char* kDerived[] = {"avg_duration_ms", "p50_duration_ms",
                                           "p95_duration_ms", "p99_duration_ms",
                                           "unique_users",    "avg_queue_length"};

// The values of kDerived for one hour's merged state: every one but the last
// is an integer (rounded), as in the seed.
struct DerivedFigures {
  std::array<std::optional<int64_t>, 5> integers;
  std::optional<double> avg_queue_length;
};
static_assert(std::tuple_size_v<decltype(DerivedFigures::integers)> + 1 == std::size(kDerived));

inline DerivedFigures derived_figures(const RollupBucket& b) {
  using rollup_columns::rounded;
  return {{rounded(b.avg_duration_ms()), rounded(b.duration_quantile(0.50)),
           rounded(b.duration_quantile(0.95)), rounded(b.duration_quantile(0.99)),
           static_cast<int64_t>(b.users.estimate())},
          b.avg_queue_length()};
}

// Writes `figures` in kDerived order to `out`, which takes
// optional_int64(std::optional<int64_t>) and optional_double(std::optional<double>).
template <typename Out>
void write_derived(Out& out, const DerivedFigures& figures) {
  for (const std::optional<int64_t>& value : figures.integers) out.optional_int64(value);
  out.optional_double(figures.avg_queue_length);
}

}  // namespace genalytics::generation_columns
