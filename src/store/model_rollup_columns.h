// The columns of the three model rollup tables (rollup/model_rollup.h) as
// both stores keep them: model_usage_hourly, model_param_hourly and
// model_lifecycle_hourly. Each row is its key columns, then the mergeable
// state of its bucket (counters, then sketches). Unlike the seed's generation
// and route tables these have no derived per-hour columns: every figure of
// seed 003 is computed from the merged state of a window, never per hour.
//
// Interface (stable; both stores build on it), one namespace per table, as
// store/route_rollup_columns.h:
//   kTable                                       the table, keyed by (timestamp, model_id)
//   kCounters, kCounterCount, counters(bucket)   the int64 state, in column order
//   kStateColumns, kStateColumnCount             every state column, in column order
//   read_state(row, first)                       a bucket from a result row
//   write_state(out, bucket)                     the state in column order, to binds or COPY
// model_usage_columns also has state_select_list(sketches, prefix): the
// state to SELECT with the two sketches left out (NULL) when not wanted;
// model_param_columns has kKeyColumns, its key with param_key and param_value.
//
// The counters are merged by the buckets' merge() (read, merge, write), so a
// counter need not be a sum: max_size_bytes is a maximum.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "rollup/model_rollup.h"
#include "sketch/ddsketch.h"
#include "store/rollup_columns.h"
#include "store/store.h"

namespace genalytics::model_usage_columns {

inline constexpr const char* kTable = "model_usage_hourly";

// The counters of a ModelUsageBucket, in column order.
inline constexpr const char* kCounters[] = {"uses", "completions", "successes",
                                            "generation_time_count", "generation_time_sum"};
inline constexpr int kCounterCount = static_cast<int>(std::size(kCounters));

// Pointers to the fields of `bucket` (ModelUsageBucket or const
// ModelUsageBucket) that kCounters name, in the same order.
template <typename Bucket>
auto counters(Bucket& bucket) {
  return std::array{&bucket.uses, &bucket.completions, &bucket.successes,
                    &bucket.generation_time_count, &bucket.generation_time_sum};
}
static_assert(std::tuple_size_v<decltype(counters(std::declval<ModelUsageBucket&>()))> ==
              kCounterCount);

// The two sketches (bytes), in column order after the counters.
inline constexpr const char* kGenerationTimeSketch = "generation_time_sketch";
inline constexpr const char* kGpuMemorySketch = "gpu_memory_sketch";

// Every state column, in column order: kCounters, then the two sketches.
inline constexpr int kStateColumnCount = kCounterCount + 2;
inline constexpr auto kStateColumns = [] {
  std::array<const char*, kStateColumnCount> columns{};
  for (int i = 0; i < kCounterCount; ++i) columns[i] = kCounters[i];
  columns[kCounterCount] = kGenerationTimeSketch;
  columns[kCounterCount + 1] = kGpuMemorySketch;
  return columns;
}();
// ModelUsageBucket's fields are exactly these columns; a new field needs one.
static_assert(kStateColumnCount == 7);

// The state columns to SELECT, in column order, each after `prefix`; without
// `sketches` the two sketch columns read as NULL.
inline std::string state_select_list(bool sketches, std::string_view prefix = "") {
  std::string list = rollup_columns::column_list(kCounters, prefix);
  for (const char* column : {kGenerationTimeSketch, kGpuMemorySketch}) {
    list += ", ";
    if (sketches) {
      list += prefix;
      list += column;
    } else {
      list += "NULL";
    }
  }
  return list;
}

// The bucket whose state is in columns first .. first + kStateColumnCount - 1
// of a result row, as state_select_list lists them. `row` answers, for a
// column i, is_null(i), int64(i) and bytes(i) (std::string or
// std::string_view). A NULL sketch (left out of the select) stays empty.
// Throws StoreError(kCorrupt) when a sketch does not decode.
template <typename Row>
ModelUsageBucket read_state(const Row& row, int first) {
  ModelUsageBucket b;
  int i = first;
  for (int64_t* field : counters(b)) *field = row.int64(i++);
  if (!row.is_null(i)) {
    b.generation_times = rollup_columns::decode_sketch(row.bytes(i), kGenerationTimeSketch, kTable);
  }
  ++i;
  if (!row.is_null(i)) {
    b.gpu_memory = rollup_columns::decode_sketch(row.bytes(i), kGpuMemorySketch, kTable);
  }
  return b;
}

// Writes the state of `b` in kStateColumns order to `out`, which takes
// int64(int64_t) and bytes(std::string): a statement's binds or a COPY row.
template <typename Out>
void write_state(Out& out, const ModelUsageBucket& b) {
  for (const int64_t* field : counters(b)) out.int64(*field);
  out.bytes(b.generation_times.serialize());
  out.bytes(b.gpu_memory.serialize());
}

}  // namespace genalytics::model_usage_columns

namespace genalytics::model_param_columns {

inline constexpr const char* kTable = "model_param_hourly";
// The value is capped per (timestamp, model_id, param_key) as open
// dimensions are (rollup/dimension_cap.h).
inline constexpr const char* kKeyColumns[] = {"timestamp", "model_id", "param_key", "param_value"};

// The counters of a ModelParamBucket, in column order; it has no sketch.
inline constexpr const char* kCounters[] = {"uses", "timed", "generation_time_sum"};
inline constexpr int kCounterCount = static_cast<int>(std::size(kCounters));

template <typename Bucket>
auto counters(Bucket& bucket) {
  return std::array{&bucket.uses, &bucket.timed, &bucket.generation_time_sum};
}
static_assert(std::tuple_size_v<decltype(counters(std::declval<ModelParamBucket&>()))> ==
              kCounterCount);

inline constexpr int kStateColumnCount = kCounterCount;
inline constexpr const auto& kStateColumns = kCounters;
// ModelParamBucket's fields are exactly these columns; a new field needs one.
static_assert(kStateColumnCount == 3);

// The bucket whose state is in columns first .. first + kStateColumnCount - 1
// of a result row; `row` answers int64(i).
template <typename Row>
ModelParamBucket read_state(const Row& row, int first) {
  ModelParamBucket b;
  int i = first;
  for (int64_t* field : counters(b)) *field = row.int64(i++);
  return b;
}

// Writes the state of `b` in kStateColumns order to `out` (int64(int64_t)).
template <typename Out>
void write_state(Out& out, const ModelParamBucket& b) {
  for (const int64_t* field : counters(b)) out.int64(*field);
}

}  // namespace genalytics::model_param_columns

namespace genalytics::model_lifecycle_columns {

inline constexpr const char* kTable = "model_lifecycle_hourly";

// The counters of a ModelLifecycleBucket, in column order.
inline constexpr const char* kCounters[] = {
    "loads", "load_failures", "load_time_count", "load_time_sum", "unloads", "unloads_idle",
    "unloads_evicted", "unloads_manual", "unloads_error", "downloads", "download_failures",
    "download_time_sum", "health_checks", "health_check_failures", "max_size_bytes"};
inline constexpr int kCounterCount = static_cast<int>(std::size(kCounters));

// Pointers to the fields of `bucket` (ModelLifecycleBucket or const
// ModelLifecycleBucket) that kCounters name, in the same order.
template <typename Bucket>
auto counters(Bucket& bucket) {
  return std::array{&bucket.loads, &bucket.load_failures, &bucket.load_time_count,
                    &bucket.load_time_sum, &bucket.unloads, &bucket.unloads_idle,
                    &bucket.unloads_evicted, &bucket.unloads_manual, &bucket.unloads_error,
                    &bucket.downloads, &bucket.download_failures, &bucket.download_time_sum,
                    &bucket.health_checks, &bucket.health_check_failures, &bucket.max_size_bytes};
}
static_assert(std::tuple_size_v<decltype(counters(std::declval<ModelLifecycleBucket&>()))> ==
              kCounterCount);

// The two sketches (bytes), in column order after the counters.
inline constexpr const char* kLoadTimeSketch = "load_time_sketch";
inline constexpr const char* kLoadedGpuMemorySketch = "loaded_gpu_memory_sketch";

// Every state column, in column order: kCounters, then the two sketches.
inline constexpr int kStateColumnCount = kCounterCount + 2;
inline constexpr auto kStateColumns = [] {
  std::array<const char*, kStateColumnCount> columns{};
  for (int i = 0; i < kCounterCount; ++i) columns[i] = kCounters[i];
  columns[kCounterCount] = kLoadTimeSketch;
  columns[kCounterCount + 1] = kLoadedGpuMemorySketch;
  return columns;
}();
// ModelLifecycleBucket's fields are exactly these columns; a new field needs one.
static_assert(kStateColumnCount == 17);

// The bucket whose state is in columns first .. first + kStateColumnCount - 1
// of a result row, in kStateColumns order. `row` answers int64(i) and
// bytes(i). Throws StoreError(kCorrupt) when a sketch does not decode.
template <typename Row>
ModelLifecycleBucket read_state(const Row& row, int first) {
  ModelLifecycleBucket b;
  int i = first;
  for (int64_t* field : counters(b)) *field = row.int64(i++);
  b.load_times = rollup_columns::decode_sketch(row.bytes(i++), kLoadTimeSketch, kTable);
  b.loaded_gpu_memory =
      rollup_columns::decode_sketch(row.bytes(i), kLoadedGpuMemorySketch, kTable);
  return b;
}

// Writes the state of `b` in kStateColumns order to `out`, which takes
// int64(int64_t) and bytes(std::string): a statement's binds or a COPY row.
template <typename Out>
void write_state(Out& out, const ModelLifecycleBucket& b) {
  for (const int64_t* field : counters(b)) out.int64(*field);
  out.bytes(b.load_times.serialize());
  out.bytes(b.loaded_gpu_memory.serialize());
}

}  // namespace genalytics::model_lifecycle_columns
