#include "store/postgres_model_rollups.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "store/model_rollup_columns.h"
#include "store/postgres_rows.h"
#include "store/rollup_columns.h"

namespace genalytics {
namespace {

namespace columns = model_lifecycle_columns;
using rollup_columns::assignments;
using rollup_columns::column_list;

// The columns a model event is copied into, in append_copy_row's order.
constexpr const char* kModelEventColumns =
    "event_id, event_type, model_id, timestamp, duration_ms, success, error_type, "
    "error_message, size_bytes, gpu_memory_mb, model_kind, base_model, reason, worker_id";

// model_lifecycle_hourly, its states staged in genalytics_model_lifecycle_states.
const PgModelHourTable& lifecycle_table() {
  static const PgModelHourTable kTable =
      pg_model_hour_table(columns::kTable, columns::kStateColumns, columns::kCounterCount,
                          "genalytics_model_lifecycle_states");
  return kTable;
}
// The staging table of a batch's worker states.
constexpr std::string_view kWorkerStatesTable = "genalytics_model_worker_states";
// The sightings of a batch, for merge_model_sightings.
constexpr std::string_view kSightingsTable = "genalytics_model_sightings";
// The registrations of register_models.
constexpr std::string_view kRegistrationsTable = "genalytics_model_registrations";

std::string create_staging_sql() {
  return fmt::format(
      "CREATE TEMP TABLE IF NOT EXISTS genalytics_incoming_model_events ON COMMIT DELETE ROWS AS "
      "SELECT {} FROM {} WITH NO DATA;{};"
      "CREATE TEMP TABLE IF NOT EXISTS {} (model_id text, worker_id text, loaded boolean, "
      "changed_at timestamptz, gpu_memory_mb bigint) ON COMMIT DELETE ROWS;{}",
      kModelEventColumns, PostgresModelKind::kTable, lifecycle_table().create_staging,
      kWorkerStatesTable, model_sightings_staging_sql());
}

void add_optional_bool(PgCopyBuffer& out, const std::optional<bool>& value) {
  if (value) {
    out.add_bool(*value);
  } else {
    out.add_null();
  }
}

void add_optional_timestamp(PgCopyBuffer& out, const std::optional<int64_t>& us) {
  if (us) {
    out.add_text(pg_timestamp(*us));
  } else {
    out.add_null();
  }
}

// The earlier of two optional times.
std::optional<int64_t> earliest(const std::optional<int64_t>& a, const std::optional<int64_t>& b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

// `column` = the incoming value unless the stored description is newer
// (described_at), and the stored one if the incoming has none. Incoming rows
// without a described_at (only an implied kind) only fill a NULL.
std::string described(std::string_view column) {
  return fmt::format(
      "{0} = CASE WHEN excluded.described_at >= COALESCE(t.described_at, excluded.described_at) "
      "THEN COALESCE(excluded.{0}, t.{0}) ELSE COALESCE(t.{0}, excluded.{0}) END",
      column);
}

}  // namespace

PgModelHourTable pg_model_hour_table(std::string_view table,
                                     std::span<const char* const> state_columns, int counter_count,
                                     std::string_view staging) {
  std::string definitions, sketches, empty_sketches;
  for (int i = 0; i < static_cast<int>(state_columns.size()); ++i) {
    const bool counter = i < counter_count;
    definitions += fmt::format(", {} {}", state_columns[i], counter ? "bigint" : "bytea");
    if (!counter) {
      sketches += fmt::format(", {}", state_columns[i]);
      empty_sketches += ", $3::bytea";
    }
  }
  return PgModelHourTable{
      std::string(table),
      fmt::format("CREATE TEMP TABLE IF NOT EXISTS {} (timestamp timestamptz, model_id text{}) "
                  "ON COMMIT DELETE ROWS",
                  staging, definitions),
      fmt::format("INSERT INTO {0} AS t (timestamp, model_id{1}) "
                  "SELECT k.timestamp, k.model_id{2} "
                  "FROM unnest($1::timestamptz[], $2::text[]) AS k(timestamp, model_id) "
                  "ORDER BY k.timestamp, k.model_id "
                  "ON CONFLICT (timestamp, model_id) DO UPDATE SET updated_at = NOW() "
                  "RETURNING {3}, t.model_id, {4}",
                  table, sketches, empty_sketches, pg_epoch_us("t.timestamp"),
                  column_list(state_columns, "t.")),
      fmt::format("COPY {} (timestamp, model_id, {}) FROM STDIN", staging,
                  column_list(state_columns)),
      fmt::format("UPDATE {} AS t SET {}, updated_at = NOW() FROM {} AS s "
                  "WHERE t.timestamp = s.timestamp AND t.model_id = s.model_id",
                  table, assignments(state_columns, "s."), staging)};
}

std::string model_sightings_staging_sql() {
  return fmt::format(
      "CREATE TEMP TABLE IF NOT EXISTS {} (model_id text, model_kind text, base_model text, "
      "size_bytes bigint, first_seen_at timestamptz, last_used_at timestamptz, "
      "last_event_at timestamptz, described_at timestamptz) ON COMMIT DELETE ROWS",
      kSightingsTable);
}

const PgBatchSql& PostgresModelKind::batch_sql() {
  static const PgBatchSql kSql = pg_batch_sql(kTable, kModelEventColumns, create_staging_sql(),
                                              "genalytics_incoming_model_events");
  return kSql;
}

void PostgresModelKind::append_copy_row(PgCopyBuffer& out, const ModelEvent& e) {
  out.add_text(e.event_id);
  out.add_text(to_string(e.event_type));
  out.add_text(e.model_id);
  out.add_text(pg_timestamp(e.timestamp_us));
  out.add_optional_int64(e.duration_ms);
  add_optional_bool(out, e.success);
  out.add_optional_text(e.error_type);
  out.add_optional_text(e.error_message);
  out.add_optional_int64(e.size_bytes);
  out.add_optional_int64(e.gpu_memory_mb);
  out.add_optional_text(e.model_kind);
  out.add_optional_text(e.base_model);
  out.add_optional_text(e.reason);
  out.add_optional_text(e.worker_id);
  out.end_row();
}

void PostgresModelKind::merge(PgConnection& c, const ModelLifecycleDelta& delta) {
  static const std::string kCopyWorkerStatesSql =
      fmt::format("COPY {} (model_id, worker_id, loaded, changed_at, gpu_memory_mb) FROM STDIN",
                  kWorkerStatesTable);
  static const std::string kWorkerStatesSql = fmt::format(
      "INSERT INTO model_worker_state AS t (model_id, worker_id, loaded, changed_at, "
      "gpu_memory_mb) SELECT model_id, worker_id, loaded, changed_at, gpu_memory_mb FROM {} "
      "ORDER BY model_id, worker_id "
      "ON CONFLICT (model_id, worker_id) DO UPDATE SET loaded = excluded.loaded, "
      "changed_at = excluded.changed_at, gpu_memory_mb = excluded.gpu_memory_mb, "
      "updated_at = NOW() WHERE excluded.changed_at >= t.changed_at",
      kWorkerStatesTable);

  merge_model_hour_rows(
      c, lifecycle_table(), delta.lifecycle(),
      [](const PgRow& row, int first) { return columns::read_state(row, first); },
      [](PgCopyRow& out, const ModelLifecycleBucket& bucket) {
        columns::write_state(out, bucket);
      });
  merge_model_sightings(c, delta.sightings());

  if (delta.worker_states().empty()) return;
  PgCopyBuffer workers;
  for (const auto& [key, change] : delta.worker_states()) {
    workers.add_text(key.first);
    workers.add_text(key.second);
    workers.add_bool(change.loaded);
    workers.add_text(pg_timestamp(change.at_us));
    workers.add_optional_int64(change.gpu_memory_mb);
    workers.end_row();
  }
  c.copy_from(kCopyWorkerStatesSql, workers.data());
  c.exec(kWorkerStatesSql);
}

void merge_model_sightings(PgConnection& c, const std::map<std::string, ModelSighting>& sightings) {
  static const std::string kCopySql = fmt::format(
      "COPY {} (model_id, model_kind, base_model, size_bytes, first_seen_at, last_used_at, "
      "last_event_at, described_at) FROM STDIN",
      kSightingsTable);
  static const std::string kUpsertSql = fmt::format(
      "INSERT INTO model_inventory AS t (model_id, model_kind, base_model, size_bytes, "
      "first_seen_at, last_used_at, last_event_at, described_at) "
      "SELECT model_id, model_kind, base_model, size_bytes, first_seen_at, last_used_at, "
      "last_event_at, described_at FROM {} ORDER BY model_id "
      "ON CONFLICT (model_id) DO UPDATE SET {}, {}, {}, "
      "first_seen_at = LEAST(t.first_seen_at, excluded.first_seen_at), "
      "last_used_at = GREATEST(t.last_used_at, excluded.last_used_at), "
      "last_event_at = GREATEST(t.last_event_at, excluded.last_event_at), "
      "described_at = GREATEST(t.described_at, excluded.described_at), updated_at = NOW()",
      kSightingsTable, described("model_kind"), described("base_model"), described("size_bytes"));
  if (sightings.empty()) return;
  PgCopyBuffer rows;
  for (const auto& [model_id, s] : sightings) {
    rows.add_text(model_id);
    rows.add_optional_text(s.model_kind);
    rows.add_optional_text(s.base_model);
    rows.add_optional_int64(s.size_bytes);
    rows.add_text(pg_timestamp(s.first_seen_us));
    add_optional_timestamp(rows, s.last_used_us);
    add_optional_timestamp(rows, s.last_event_us);
    // 0: the sighting describes nothing, or gives only an implied kind.
    add_optional_timestamp(
        rows, s.described_at_us != 0 ? std::optional<int64_t>(s.described_at_us) : std::nullopt);
    rows.end_row();
  }
  c.copy_from(kCopySql, rows.data());
  c.exec(kUpsertSql);
}

std::vector<ModelLifecycleRow> read_model_lifecycle(PostgresConnectionPool& pool, int64_t start_us,
                                                    int64_t end_us,
                                                    const std::optional<std::string>& model) {
  // Models in byte order, as SqliteStore returns them, whatever the collation.
  static const std::string kSql = fmt::format(
      "SELECT {}, model_id, {} FROM {} "
      "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz",
      pg_epoch_us("timestamp"), column_list(columns::kStateColumns), columns::kTable);
  static const std::string kOrder = " ORDER BY timestamp, model_id COLLATE \"C\"";
  static const std::string kAllSql = kSql + kOrder;
  static const std::string kModelSql = kSql + " AND model_id = $3::text" + kOrder;
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return {};
  PgParams params;
  params.text(pg_timestamp(start_us)).text(pg_timestamp(end_us));
  if (model) params.text(*model);
  const PgResult result = pool.with_connection([&](PgConnection& c) {
    return c.exec(model ? kModelSql : kAllSql, params, PgFormat::kBinary);
  });
  std::vector<ModelLifecycleRow> rows;
  rows.reserve(result.rows());
  for (int r = 0; r < result.rows(); ++r) {
    rows.push_back(
        ModelLifecycleRow{ModelHourKey{result.int64(r, 0), std::string(result.text(r, 1))},
                          columns::read_state(PgRow(result, r), 2)});
  }
  return rows;
}

std::vector<ModelRecord> read_models(PostgresConnectionPool& pool) {
  static const std::string kSql = fmt::format(
      "SELECT model_id, model_kind, base_model, path, size_bytes, {}, {}, {}, {} "
      "FROM model_inventory ORDER BY model_id COLLATE \"C\"",
      pg_epoch_us("first_seen_at"), pg_epoch_us("last_used_at"), pg_epoch_us("last_event_at"),
      pg_epoch_us("registered_at"));
  const PgResult result = pool.with_connection([](PgConnection& c) { return c.exec(kSql); });
  std::vector<ModelRecord> records;
  records.reserve(result.rows());
  for (int r = 0; r < result.rows(); ++r) {
    records.push_back(ModelRecord{
        std::string(result.text(r, 0)), result.optional_text(r, 1), result.optional_text(r, 2),
        result.optional_text(r, 3), result.optional_int64(r, 4), result.optional_int64(r, 5),
        result.optional_int64(r, 6), result.optional_int64(r, 7), result.optional_int64(r, 8)});
  }
  return records;
}

std::vector<ModelWorkerState> read_model_worker_states(PostgresConnectionPool& pool) {
  static const std::string kSql = fmt::format(
      "SELECT model_id, worker_id, loaded, {}, gpu_memory_mb FROM model_worker_state "
      "ORDER BY model_id COLLATE \"C\", worker_id COLLATE \"C\"",
      pg_epoch_us("changed_at"));
  const PgResult result = pool.with_connection([](PgConnection& c) { return c.exec(kSql); });
  std::vector<ModelWorkerState> states;
  states.reserve(result.rows());
  for (int r = 0; r < result.rows(); ++r) {
    states.push_back(ModelWorkerState{std::string(result.text(r, 0)),
                                      std::string(result.text(r, 1)), result.boolean(r, 2),
                                      result.int64(r, 3), result.optional_int64(r, 4)});
  }
  return states;
}

void register_models(PostgresConnectionPool& pool, std::span<const ModelRecord> records) {
  static const std::string kStagingSql = fmt::format(
      "CREATE TEMP TABLE IF NOT EXISTS {} (model_id text, model_kind text, base_model text, "
      "path text, size_bytes bigint, first_seen_at timestamptz, registered_at timestamptz) "
      "ON COMMIT DELETE ROWS",
      kRegistrationsTable);
  static const std::string kCopySql = fmt::format(
      "COPY {} (model_id, model_kind, base_model, path, size_bytes, first_seen_at, "
      "registered_at) FROM STDIN",
      kRegistrationsTable);
  // Given fields replace the stored ones; the registration's time is also
  // the time they describe (described_at).
  static const std::string kUpsertSql = fmt::format(
      "INSERT INTO model_inventory AS t (model_id, model_kind, base_model, path, size_bytes, "
      "first_seen_at, registered_at, described_at) "
      "SELECT model_id, model_kind, base_model, path, size_bytes, first_seen_at, registered_at, "
      "registered_at FROM {} ORDER BY model_id "
      "ON CONFLICT (model_id) DO UPDATE SET "
      "model_kind = COALESCE(excluded.model_kind, t.model_kind), "
      "base_model = COALESCE(excluded.base_model, t.base_model), "
      "path = COALESCE(excluded.path, t.path), "
      "size_bytes = COALESCE(excluded.size_bytes, t.size_bytes), "
      "first_seen_at = LEAST(t.first_seen_at, excluded.first_seen_at), "
      "registered_at = COALESCE(excluded.registered_at, t.registered_at), "
      "described_at = GREATEST(t.described_at, excluded.described_at), updated_at = NOW()",
      kRegistrationsTable);
  // One row per model (an upsert may change a row once), the records of one
  // model applied in order.
  std::map<std::string, ModelRecord> merged;
  for (const ModelRecord& record : records) {
    auto [it, created] = merged.try_emplace(record.model_id, record);
    if (created) continue;
    ModelRecord& into = it->second;
    auto replace = [](auto& field, const auto& given) {
      if (given) field = given;
    };
    replace(into.model_kind, record.model_kind);
    replace(into.base_model, record.base_model);
    replace(into.path, record.path);
    replace(into.size_bytes, record.size_bytes);
    replace(into.registered_us, record.registered_us);
    into.first_seen_us = earliest(into.first_seen_us, record.first_seen_us);
  }
  if (merged.empty()) return;
  PgCopyBuffer rows;
  for (const auto& [model_id, record] : merged) {
    rows.add_text(model_id);
    rows.add_optional_text(record.model_kind);
    rows.add_optional_text(record.base_model);
    rows.add_optional_text(record.path);
    rows.add_optional_int64(record.size_bytes);
    add_optional_timestamp(rows, record.first_seen_us);
    add_optional_timestamp(rows, record.registered_us);
    rows.end_row();
  }
  pool.with_connection([&](PgConnection& c) {
    PgTransaction transaction(c);
    c.exec(kStagingSql);
    c.copy_from(kCopySql, rows.data());
    c.exec(kUpsertSql);
    transaction.commit();
  });
}

void scan_model_events(PostgresConnectionPool& pool, int64_t start_us, int64_t end_us,
                       const std::function<void(const ModelEvent&)>& visit) {
  static const std::string kSql = fmt::format(
      "SELECT event_id, event_type, model_id, {}, duration_ms, success, error_type, "
      "error_message, size_bytes, gpu_memory_mb, model_kind, base_model, reason, worker_id "
      "FROM {} WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz "
      "ORDER BY timestamp, id",
      pg_epoch_us("timestamp"), PostgresModelKind::kTable);
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return;
  const PgResult result = pool.with_connection([&](PgConnection& c) {
    return c.exec(kSql, PgParams().text(pg_timestamp(start_us)).text(pg_timestamp(end_us)));
  });
  ModelEvent e;
  for (int r = 0; r < result.rows(); ++r) {
    auto type = parse_model_event_type(result.text(r, 1));
    if (!type) {
      throw StoreError("corrupt event_type in model_usage_events", StoreFailure::kCorrupt);
    }
    e.event_id = result.text(r, 0);
    e.event_type = *type;
    e.model_id = result.text(r, 2);
    e.timestamp_us = result.int64(r, 3);
    e.duration_ms = result.optional_int64(r, 4);
    e.success = result.is_null(r, 5) ? std::nullopt : std::optional<bool>(result.boolean(r, 5));
    e.error_type = result.optional_text(r, 6);
    e.error_message = result.optional_text(r, 7);
    e.size_bytes = result.optional_int64(r, 8);
    e.gpu_memory_mb = result.optional_int64(r, 9);
    e.model_kind = result.optional_text(r, 10);
    e.base_model = result.optional_text(r, 11);
    e.reason = result.optional_text(r, 12);
    e.worker_id = result.optional_text(r, 13);
    visit(e);
  }
}

}  // namespace genalytics
