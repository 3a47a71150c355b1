#include "store/postgres_generation_rollups.h"

#include <fmt/format.h>

#include <iterator>

#include "event/uuid.h"
#include "store/generation_rollup_columns.h"
#include "store/postgres_model_usage.h"
#include "store/postgres_rollup_changes.h"
#include "store/postgres_rows.h"
#include "store/rollup_columns.h"

namespace genalytics {
namespace {

namespace columns = generation_columns;
using rollup_columns::assignments;
using rollup_columns::column_list;

constexpr std::string_view kHourlyTable = "generation_metrics_hourly";
constexpr std::string_view kDimensionTable = "generation_dimension_hourly";

// The SQL type of each state column, in kStateColumns order.
std::string_view state_type(int index) {
  if (index < columns::kCounterCount) return "bigint";
  return index + 1 < columns::kStateColumnCount ? "bytea" : "jsonb";  // sketches, then messages
}

// The state columns as SELECTed, with `prefix`; the messages as JSON text
// (binary results would give JSONB's own encoding).
std::string state_select(const RollupColumns& wanted, std::string_view prefix) {
  return columns::state_select_list(wanted, prefix, "::text");
}

constexpr RollupColumns kEveryColumn{true, true, true};

// Reads (hour_us, dimension, value, state...) rows of `table`.
std::vector<RollupRow> read_rollup_rows(const PgResult& result, std::string_view table) {
  std::vector<RollupRow> rows;
  rows.reserve(result.rows());
  for (int r = 0; r < result.rows(); ++r) {
    auto dimension = parse_dimension(result.text(r, 1));
    if (!dimension) {
      throw StoreError(fmt::format("corrupt dimension in {}", table), StoreFailure::kCorrupt);
    }
    rows.push_back(RollupRow{
        RollupKey{result.int64(r, 0), *dimension, std::string(result.text(r, 2))},
        columns::read_state(PgRow(result, r), 3, table)});
  }
  return rows;
}

// The staging table of merged states: key, the derived seed columns, the state.
constexpr std::string_view kStatesTable = "genalytics_rollup_states";

std::string create_staging_sql() {
  std::string states = "dimension text, timestamp timestamptz, value text";
  const int derived_count = static_cast<int>(std::size(columns::kDerived));
  for (int i = 0; i < derived_count; ++i) {
    // As DerivedFigures: integers, then avg_queue_length.
    states += fmt::format(", {} {}", columns::kDerived[i],
                          i + 1 < derived_count ? "bigint" : "float8");
  }
  for (int i = 0; i < columns::kStateColumnCount; ++i) {
    states += fmt::format(", {} {}", columns::kStateColumns[i], state_type(i));
  }
  return fmt::format(
      "CREATE TEMP TABLE IF NOT EXISTS genalytics_incoming_events ON COMMIT DELETE ROWS AS "
      "SELECT {} FROM generation_events WITH NO DATA;"
      "CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS;{}",
      kGenerationEventCopyColumns, kStatesTable, states, model_usage_staging_sql());
}

// One row of the states table.
void append_state_row(PgCopyBuffer& out, const RollupKey& key, const RollupBucket& bucket) {
  out.add_text(to_string(key.dimension));
  out.add_text(pg_timestamp(key.hour_us));
  out.add_text(key.value);
  PgCopyRow row(out);
  columns::write_derived(row, columns::derived_figures(bucket));
  columns::write_state(row, bucket);
  out.end_row();
}

}  // namespace

const char* const kGenerationEventCopyColumns =
    "event_id, event_type, generation_id, user_id, timestamp, generation_type, duration_ms, "
    "success, error_type, error_message, queue_wait_time_ms, generation_time_ms, "
    "model_checkpoint, image_dimensions, batch_size, prompt_tokens, costs, tokens, params, "
    "attributes, retry_count, gpu_memory_mb, queue_length";

void append_generation_event_copy_row(PgCopyBuffer& out, const GenerationEvent& e) {
  out.add_text(e.event_id);
  out.add_text(to_string(e.event_type));
  out.add_text(e.generation_id);
  out.add_optional_text(e.user_id);
  out.add_text(pg_timestamp(e.timestamp_us));
  out.add_optional_text(e.generation_type);
  out.add_optional_int64(e.duration_ms);
  if (e.success) {
    out.add_bool(*e.success);
  } else {
    out.add_null();
  }
  out.add_optional_text(e.error_type);
  out.add_optional_text(e.error_message);
  out.add_optional_int64(e.queue_wait_time_ms);
  out.add_optional_int64(e.generation_time_ms);
  out.add_optional_text(e.model_checkpoint);
  out.add_optional_text(e.image_dimensions_json);
  out.add_optional_int64(e.batch_size);
  out.add_optional_int64(e.prompt_tokens);
  out.add_optional_text(e.costs_json);
  out.add_optional_text(e.tokens_json);
  out.add_optional_text(e.params_json);
  out.add_optional_text(e.attributes_json);
  out.add_optional_int64(e.retry_count);
  out.add_optional_int64(e.gpu_memory_mb);
  out.add_optional_int64(e.queue_length);
  out.end_row();
}

const PgBatchSql& PostgresGenerationKind::batch_sql() {
  static const PgBatchSql kSql = pg_batch_sql(kTable, kGenerationEventCopyColumns,
                                              create_staging_sql(), "genalytics_incoming_events");
  return kSql;
}

namespace {

// Merges `delta` into the generation rollup rows as PostgresGenerationKind::merge says.
void merge_generation_rollups(PgConnection& c, RollupDelta& delta,
                              size_t max_values_per_dimension_hour) {
  static const std::string kLockHourlySql = fmt::format(
      "INSERT INTO {} AS t (timestamp, duration_sketch, users_hll) "
      "SELECT k.timestamp, $2::bytea, $3::bytea FROM unnest($1::timestamptz[]) AS k(timestamp) "
      "ORDER BY k.timestamp "
      "ON CONFLICT (timestamp) DO UPDATE SET updated_at = NOW() "
      "RETURNING {}, 'all'::text, ''::text, {}",
      kHourlyTable, pg_epoch_us("t.timestamp"), state_select(kEveryColumn, "t."));
  static const std::string kLockDimensionSql = fmt::format(
      "INSERT INTO {} AS t (dimension, timestamp, value, duration_sketch, users_hll) "
      "SELECT k.dimension, k.timestamp, k.value, $4::bytea, $5::bytea "
      "FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS k(dimension, timestamp, value) "
      "ORDER BY k.dimension, k.timestamp, k.value "
      "ON CONFLICT (dimension, timestamp, value) DO UPDATE SET updated_at = NOW() "
      "RETURNING {}, t.dimension, t.value, {}",
      kDimensionTable, pg_epoch_us("t.timestamp"), state_select(kEveryColumn, "t."));
  static const std::string kCopyStatesSql =
      fmt::format("COPY {} (dimension, timestamp, value, {}, {}) FROM STDIN", kStatesTable,
                  column_list(columns::kDerived), column_list(columns::kStateColumns));
  static const std::string kUpdateSql = fmt::format(
      "UPDATE {0} AS t SET {3}, {4}, updated_at = NOW() FROM {2} AS s "
      "WHERE s.dimension = 'all' AND t.timestamp = s.timestamp;"
      "UPDATE {1} AS t SET {3}, updated_at = NOW() FROM {2} AS s WHERE s.dimension <> 'all' AND "
      "t.dimension = s.dimension AND t.timestamp = s.timestamp AND t.value = s.value",
      kHourlyTable, kDimensionTable, kStatesTable, assignments(columns::kStateColumns, "s."),
      assignments(columns::kDerived, "s."));

  static const std::string kStoredValuesSql = fmt::format(
      "SELECT value FROM {} WHERE dimension = $1::text AND timestamp = $2::timestamptz",
      kDimensionTable);

  std::vector<std::string> hours, dimensions, dimension_hours, values;
  for (const auto& [key, bucket] : delta.buckets()) {
    if (key.dimension == Dimension::kAll) hours.push_back(pg_timestamp(key.hour_us));
  }
  const std::string empty_sketch = DDSketch().serialize();
  const std::string empty_users = HyperLogLog().serialize();
  std::vector<RollupRow> current;
  if (!hours.empty()) {
    current = read_rollup_rows(
        c.exec(kLockHourlySql,
               PgParams().text(pg_array_literal(hours)).bytea(empty_sketch).bytea(empty_users),
               PgFormat::kBinary),
        kHourlyTable);
  }
  // Every hour of the delta has its `all` row, now locked: a concurrent
  // writer of the same hour waits here, so the values read below are all
  // the hour has (each statement reads what is committed when it starts),
  // and the cap holds whatever the number of writers.
  delta.fold_attribute_values(max_values_per_dimension_hour,
                              [&](int64_t hour_us, const Dimension& dimension) {
                                const PgResult result = c.exec(
                                    kStoredValuesSql, PgParams()
                                                          .text(to_string(dimension))
                                                          .text(pg_timestamp(hour_us)));
                                std::vector<std::string> stored;
                                stored.reserve(result.rows());
                                for (int r = 0; r < result.rows(); ++r) {
                                  stored.emplace_back(result.text(r, 0));
                                }
                                return stored;
                              });
  for (const auto& [key, bucket] : delta.buckets()) {
    if (key.dimension == Dimension::kAll) continue;
    dimensions.emplace_back(to_string(key.dimension));
    dimension_hours.push_back(pg_timestamp(key.hour_us));
    values.push_back(key.value);
  }
  if (!dimensions.empty()) {
    std::vector<RollupRow> rows =
        read_rollup_rows(c.exec(kLockDimensionSql,
                                PgParams()
                                    .text(pg_array_literal(dimensions))
                                    .text(pg_array_literal(dimension_hours))
                                    .text(pg_array_literal(values))
                                    .bytea(empty_sketch)
                                    .bytea(empty_users),
                                PgFormat::kBinary),
                         kDimensionTable);
    std::move(rows.begin(), rows.end(), std::back_inserter(current));
  }
  // One row per key, each with its key, unless the database is not as this
  // build's migrations left it (a trigger or rule on the table, a dropped
  // constraint): kCorrupt, since retrying fails the same way and the rows it
  // holds are not the rows this store wrote.
  if (current.size() != delta.buckets().size()) {
    throw StoreError(fmt::format("postgres: locked {} rollup rows for {} keys", current.size(),
                                 delta.buckets().size()),
                     StoreFailure::kCorrupt);
  }
  PgCopyBuffer states;
  for (RollupRow& row : current) {
    auto it = delta.buckets().find(row.key);
    if (it == delta.buckets().end()) {
      throw StoreError("postgres: locked an unexpected rollup row", StoreFailure::kCorrupt);
    }
    row.bucket.merge(it->second);
    append_state_row(states, row.key, row.bucket);
  }
  c.copy_from(kCopyStatesSql, states.data());
  c.exec(kUpdateSql);
}

}  // namespace

void PostgresGenerationKind::merge(PgConnection& c, GenerationDeltas& delta,
                                   size_t max_values_per_dimension_hour) {
  merge_generation_rollups(c, delta.rollups, max_values_per_dimension_hour);
  merge_model_usage(c, delta.models, max_values_per_dimension_hour);
  // Last: the log's row lock serializes writers until they commit.
  log_rollup_changes(c, delta.rollups);
}

std::vector<RollupRow> read_generation_rollups(PgConnection& c, Dimension dimension,
                                               int64_t start_us, int64_t end_us,
                                               const std::optional<std::string>& value,
                                               const RollupColumns& wanted) {
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return {};
  const bool all = dimension == Dimension::kAll;
  // Values in byte order, as SqliteStore returns them, whatever the collation.
  const std::string sql =
      all ? fmt::format(
                "SELECT {}, 'all'::text, ''::text, {} FROM {} "
                "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz "
                "ORDER BY timestamp",
                pg_epoch_us("timestamp"), state_select(wanted, ""), kHourlyTable)
          : fmt::format(
                "SELECT {}, dimension, value, {} FROM {} "
                "WHERE dimension = $1::text AND timestamp >= $2::timestamptz AND "
                "timestamp < $3::timestamptz {} ORDER BY timestamp, value COLLATE \"C\"",
                pg_epoch_us("timestamp"), state_select(wanted, ""), kDimensionTable,
                value ? "AND value = $4::text" : "");
  PgParams params;
  if (!all) params.text(to_string(dimension));
  params.text(pg_timestamp(start_us)).text(pg_timestamp(end_us));
  if (!all && value) params.text(*value);
  return read_rollup_rows(c.exec(sql, params, PgFormat::kBinary),
                          all ? kHourlyTable : kDimensionTable);
}

void scan_generation_events(PostgresConnectionPool& pool,
                            const std::optional<std::string>& user_id, int64_t start_us,
                            int64_t end_us,
                            const std::function<void(const GenerationEvent&)>& visit) {
  static const std::string kColumns = fmt::format(
      "SELECT event_type, generation_id, {}, generation_type, duration_ms, success, error_type, "
      "error_message, queue_wait_time_ms, generation_time_ms, model_checkpoint, batch_size, "
      "queue_length, event_id, user_id FROM generation_events ",
      pg_epoch_us("timestamp"));
  static const std::string kWindowSql =
      kColumns +
      "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz ORDER BY timestamp";
  static const std::string kUserSql =
      kColumns +
      "WHERE user_id = $1::uuid AND timestamp >= $2::timestamptz AND timestamp < $3::timestamptz "
      "ORDER BY timestamp";
  // Stored user_ids are UUIDs: any other text matches nothing.
  if (user_id && !canonical_uuid(*user_id)) return;
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return;
  PgParams params;
  if (user_id) params.text(*user_id);
  params.text(pg_timestamp(start_us)).text(pg_timestamp(end_us));
  const PgResult result = pool.with_connection(
      [&](PgConnection& c) { return c.exec(user_id ? kUserSql : kWindowSql, params); });
  GenerationEvent e;
  for (int r = 0; r < result.rows(); ++r) {
    auto type = parse_generation_event_type(result.text(r, 0));
    if (!type) {
      throw StoreError("corrupt event_type in generation_events", StoreFailure::kCorrupt);
    }
    e.event_type = *type;
    e.generation_id = result.text(r, 1);
    e.timestamp_us = result.int64(r, 2);
    e.generation_type = result.optional_text(r, 3);
    e.duration_ms = result.optional_int64(r, 4);
    e.success = result.is_null(r, 5) ? std::nullopt : std::optional<bool>(result.boolean(r, 5));
    e.error_type = result.optional_text(r, 6);
    e.error_message = result.optional_text(r, 7);
    e.queue_wait_time_ms = result.optional_int64(r, 8);
    e.generation_time_ms = result.optional_int64(r, 9);
    e.model_checkpoint = result.optional_text(r, 10);
    e.batch_size = result.optional_int64(r, 11);
    e.queue_length = result.optional_int64(r, 12);
    e.event_id = result.text(r, 13);
    e.user_id = result.optional_text(r, 14);
    visit(e);
  }
}

int64_t count_generation_events(PostgresConnectionPool& pool) {
  return pool.with_connection(
      [](PgConnection& c) { return c.exec("SELECT COUNT(*) FROM generation_events").int64(0, 0); });
}

StoreStatus generation_store_status(PostgresConnectionPool& pool) {
  static const std::string kSql = fmt::format(
      "SELECT (SELECT COALESCE(SUM(GREATEST(c.reltuples, 0)), 0)::bigint FROM pg_inherits i "
      "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'generation_events'::regclass), "
      "(SELECT {0} FROM generation_events ORDER BY timestamp DESC LIMIT 1), "
      "(SELECT {0} FROM {2} ORDER BY timestamp DESC LIMIT 1), "
      "(SELECT {1} FROM {2} ORDER BY updated_at DESC LIMIT 1), "
      "(SELECT COUNT(*) FROM {2})",
      pg_epoch_us("timestamp"), pg_epoch_us("updated_at"), kHourlyTable);
  const PgResult r = pool.with_connection([](PgConnection& c) { return c.exec(kSql); });
  StoreStatus status;
  status.events = r.int64(0, 0);
  status.events_exact = false;
  status.last_event_us = r.optional_int64(0, 1);
  status.last_hour_rolled_up_us = r.optional_int64(0, 2);
  status.last_rollup_update_us = r.optional_int64(0, 3);
  status.hourly_rows = r.int64(0, 4);
  return status;
}

}  // namespace genalytics
