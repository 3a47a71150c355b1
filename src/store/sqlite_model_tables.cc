#include "store/sqlite_model_tables.h"

#include <fmt/format.h>

#include "event/time.h"
#include "store/model_rollup_columns.h"
#include "store/sqlite_event_batch.h"
#include "store/sqlite_rollup_rows.h"

namespace genalytics {
namespace {

namespace columns = model_lifecycle_columns;
using rollup_columns::assignments;
using rollup_columns::column_list;
using rollup_columns::placeholders;

constexpr const char* kEventsTable = "model_usage_events";
constexpr const char* kInventoryTable = "model_inventory";
constexpr const char* kWorkerTable = "model_worker_state";

// The columns of model_usage_events an event is stored in, in bind order.
constexpr const char* kEventColumns =
    "event_id, event_type, model_id, timestamp, duration_ms, success, error_type, "
    "error_message, size_bytes, gpu_memory_mb, model_kind, base_model, reason, worker_id";
constexpr int kEventColumnCount = 14;

void bind_optional_bool(SqliteStatement& s, int index, const std::optional<bool>& value) {
  if (value) {
    s.bind_int64(index, *value ? 1 : 0);
  } else {
    s.bind_null(index);
  }
}

void bind_optional_time(SqliteStatement& s, int index, const std::optional<int64_t>& us) {
  if (us) {
    s.bind_text(index, format_rfc3339_micros(*us));
  } else {
    s.bind_null(index);
  }
}

std::optional<int64_t> optional_time(const SqliteStatement& s, int column, std::string_view table) {
  if (s.is_null(column)) return std::nullopt;
  return stored_time(s.column_text(column), table);
}

void bind_event(SqliteStatement& insert, const ModelEvent& e, const std::string& now_text) {
  insert.bind_text(1, e.event_id);
  insert.bind_text(2, to_string(e.event_type));
  insert.bind_text(3, e.model_id);
  insert.bind_text(4, format_rfc3339_micros(e.timestamp_us));
  insert.bind_optional_int64(5, e.duration_ms);
  bind_optional_bool(insert, 6, e.success);
  insert.bind_optional_text(7, e.error_type);
  insert.bind_optional_text(8, e.error_message);
  insert.bind_optional_int64(9, e.size_bytes);
  insert.bind_optional_int64(10, e.gpu_memory_mb);
  insert.bind_optional_text(11, e.model_kind);
  insert.bind_optional_text(12, e.base_model);
  insert.bind_optional_text(13, e.reason);
  insert.bind_optional_text(14, e.worker_id);
  insert.bind_text(kEventColumnCount + 1, now_text);
}

// The earlier (later) of two nullable timestamps, NULL only when both are:
// SQLite's two-argument MIN and MAX are NULL when either is.
std::string earliest(std::string_view column) {
  return fmt::format("COALESCE(MIN({0}, excluded.{0}), {0}, excluded.{0})", column);
}
std::string latest(std::string_view column) {
  return fmt::format("COALESCE(MAX({0}, excluded.{0}), {0}, excluded.{0})", column);
}

}  // namespace

int64_t stored_time(std::string_view text, std::string_view table) {
  auto us = parse_rfc3339(text);
  if (!us) throw StoreError(fmt::format("corrupt timestamp in {}", table), StoreFailure::kCorrupt);
  return *us;
}

SqliteModelHourSql sqlite_model_hour_sql(std::string_view table,
                                         std::span<const char* const> state_columns) {
  return SqliteModelHourSql{
      fmt::format("SELECT {} FROM {} WHERE timestamp = ? AND model_id = ?",
                  column_list(state_columns), table),
      fmt::format("INSERT INTO {} (timestamp, model_id, created_at, updated_at, {}) "
                  "VALUES (?,?,?,?,{}) ON CONFLICT(timestamp, model_id) DO UPDATE SET "
                  "updated_at = excluded.updated_at, {}",
                  table, column_list(state_columns),
                  placeholders(static_cast<int>(state_columns.size())),
                  assignments(state_columns, "excluded."))};
}

void merge_model_sightings(SqliteDatabase& writer,
                           const std::map<std::string, ModelSighting>& sightings,
                           const std::string& now_text) {
  // A descriptive field replaces the stored one when the sighting's
  // described_at (NULL when it describes nothing, or only implies a kind)
  // is not older than the stored one's, and otherwise only fills a NULL.
  static const std::string kUpsertSql = [] {
    auto described = [](std::string_view column) {
      return fmt::format(
          "{0} = CASE WHEN excluded.described_at >= COALESCE(described_at, '') "
          "THEN COALESCE(excluded.{0}, {0}) ELSE COALESCE({0}, excluded.{0}) END",
          column);
    };
    return fmt::format(
        "INSERT INTO {} (model_id, model_kind, base_model, size_bytes, first_seen_at, "
        "last_used_at, last_event_at, described_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(model_id) DO UPDATE SET {}, {}, {}, first_seen_at = {}, "
        "last_used_at = {}, last_event_at = {}, described_at = {}, "
        "updated_at = excluded.updated_at",
        kInventoryTable, described("model_kind"), described("base_model"), described("size_bytes"),
        earliest("first_seen_at"), latest("last_used_at"), latest("last_event_at"),
        latest("described_at"));
  }();
  SqliteStatement& upsert = writer.prepare_cached(kUpsertSql);
  for (const auto& [model_id, s] : sightings) {
    upsert.reset();
    upsert.bind_text(1, model_id);
    upsert.bind_optional_text(2, s.model_kind);
    upsert.bind_optional_text(3, s.base_model);
    upsert.bind_optional_int64(4, s.size_bytes);
    upsert.bind_text(5, format_rfc3339_micros(s.first_seen_us));
    bind_optional_time(upsert, 6, s.last_used_us);
    bind_optional_time(upsert, 7, s.last_event_us);
    bind_optional_time(
        upsert, 8,
        s.described_at_us != 0 ? std::optional<int64_t>(s.described_at_us) : std::nullopt);
    upsert.bind_text(9, now_text);
    upsert.step();
  }
}

void SqliteModelTables::write(std::span<const ModelEvent> events, std::vector<uint8_t>* inserted) {
  static const std::string kInsertSql =
      fmt::format("INSERT INTO {} ({}, created_at) VALUES ({}) ON CONFLICT(event_id) DO NOTHING",
                  kEventsTable, kEventColumns, placeholders(kEventColumnCount + 1));
  // A worker's state changes only to a load or unload not older than the
  // one it holds; of two at the same time, the one written later wins.
  static const std::string kWorkerSql = fmt::format(
      "INSERT INTO {0} (model_id, worker_id, loaded, changed_at, gpu_memory_mb) "
      "VALUES (?,?,?,?,?) ON CONFLICT(model_id, worker_id) DO UPDATE SET "
      "loaded = excluded.loaded, changed_at = excluded.changed_at, "
      "gpu_memory_mb = excluded.gpu_memory_mb WHERE excluded.changed_at >= {0}.changed_at",
      kWorkerTable);
  const std::string now_text = format_rfc3339_micros(now_us());
  SqliteDatabase& writer = connections_.writer();
  write_event_batch<ModelLifecycleDelta>(
      writer, kInsertSql, events, inserted,
      [&](SqliteStatement& insert, const ModelEvent& e) { bind_event(insert, e, now_text); },
      [&](const ModelLifecycleDelta& delta) {
        static const SqliteModelHourSql kLifecycleSql =
            sqlite_model_hour_sql(columns::kTable, columns::kStateColumns);
        merge_model_hour_rows(
            writer, kLifecycleSql, delta.lifecycle(), now_text,
            [](const SqliteRow& row, int first) { return columns::read_state(row, first); },
            [](SqliteBinds& out, const ModelLifecycleBucket& bucket) {
              columns::write_state(out, bucket);
            });
        merge_model_sightings(writer, delta.sightings(), now_text);
        SqliteStatement& worker = writer.prepare_cached(kWorkerSql);
        for (const auto& [model_worker, change] : delta.worker_states()) {
          worker.reset();
          worker.bind_text(1, model_worker.first);
          worker.bind_text(2, model_worker.second);
          worker.bind_int64(3, change.loaded ? 1 : 0);
          worker.bind_text(4, format_rfc3339_micros(change.at_us));
          worker.bind_optional_int64(5, change.gpu_memory_mb);
          worker.step();
        }
      });
}

std::vector<ModelLifecycleRow> SqliteModelTables::read_lifecycle(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& model) const {
  static const std::string kSql = fmt::format(
      "SELECT timestamp, model_id, {} FROM {} WHERE timestamp >= ? AND timestamp < ? "
      "ORDER BY timestamp, model_id",
      column_list(columns::kStateColumns), columns::kTable);
  static const std::string kModelSql = fmt::format(
      "SELECT timestamp, model_id, {} FROM {} WHERE model_id = ? AND timestamp >= ? "
      "AND timestamp < ? ORDER BY timestamp",
      column_list(columns::kStateColumns), columns::kTable);
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(model ? kModelSql : kSql);
  int i = 1;
  if (model) select.bind_text(i++, *model);
  select.bind_text(i++, format_rfc3339_micros(start_us));
  select.bind_text(i++, format_rfc3339_micros(end_us));
  std::vector<ModelLifecycleRow> rows;
  while (select.step()) {
    rows.push_back(
        ModelLifecycleRow{ModelHourKey{stored_time(select.column_text(0), columns::kTable),
                                       std::string(select.column_text(1))},
                          columns::read_state(SqliteRow(select), 2)});
  }
  select.reset();
  return rows;
}

std::vector<ModelRecord> SqliteModelTables::read_models() const {
  static const std::string kSql = fmt::format(
      "SELECT model_id, model_kind, base_model, path, size_bytes, first_seen_at, last_used_at, "
      "last_event_at, registered_at FROM {} ORDER BY model_id",
      kInventoryTable);
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(kSql);
  std::vector<ModelRecord> records;
  while (select.step()) {
    ModelRecord& r = records.emplace_back();
    r.model_id = select.column_text(0);
    r.model_kind = select.column_optional_text(1);
    r.base_model = select.column_optional_text(2);
    r.path = select.column_optional_text(3);
    r.size_bytes = select.column_optional_int64(4);
    r.first_seen_us = optional_time(select, 5, kInventoryTable);
    r.last_used_us = optional_time(select, 6, kInventoryTable);
    r.last_event_us = optional_time(select, 7, kInventoryTable);
    r.registered_us = optional_time(select, 8, kInventoryTable);
  }
  select.reset();
  return records;
}

std::vector<ModelWorkerState> SqliteModelTables::read_worker_states() const {
  static const std::string kSql = fmt::format(
      "SELECT model_id, worker_id, loaded, changed_at, gpu_memory_mb FROM {} "
      "ORDER BY model_id, worker_id",
      kWorkerTable);
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(kSql);
  std::vector<ModelWorkerState> states;
  while (select.step()) {
    states.push_back(ModelWorkerState{
        std::string(select.column_text(0)), std::string(select.column_text(1)),
        select.column_int64(2) != 0, stored_time(select.column_text(3), kWorkerTable),
        select.column_optional_int64(4)});
  }
  select.reset();
  return states;
}

void SqliteModelTables::register_models(std::span<const ModelRecord> records) {
  // Given fields replace; a registration's time is also the time its
  // fields describe (described_at), so older model events do not override them.
  static const std::string kUpsertSql = fmt::format(
      "INSERT INTO {} (model_id, model_kind, base_model, path, size_bytes, first_seen_at, "
      "registered_at, described_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?7,?8) "
      "ON CONFLICT(model_id) DO UPDATE SET model_kind = COALESCE(excluded.model_kind, model_kind), "
      "base_model = COALESCE(excluded.base_model, base_model), "
      "path = COALESCE(excluded.path, path), "
      "size_bytes = COALESCE(excluded.size_bytes, size_bytes), first_seen_at = {}, "
      "registered_at = COALESCE(excluded.registered_at, registered_at), described_at = {}, "
      "updated_at = excluded.updated_at",
      kInventoryTable, earliest("first_seen_at"), latest("described_at"));
  if (records.empty()) return;
  const std::string now_text = format_rfc3339_micros(now_us());
  SqliteDatabase& writer = connections_.writer();
  SqliteTransaction transaction(writer, SqliteTransaction::Mode::kWrite);
  SqliteStatement& upsert = writer.prepare_cached(kUpsertSql);
  for (const ModelRecord& r : records) {
    upsert.reset();
    upsert.bind_text(1, r.model_id);
    upsert.bind_optional_text(2, r.model_kind);
    upsert.bind_optional_text(3, r.base_model);
    upsert.bind_optional_text(4, r.path);
    upsert.bind_optional_int64(5, r.size_bytes);
    bind_optional_time(upsert, 6, r.first_seen_us);
    bind_optional_time(upsert, 7, r.registered_us);
    upsert.bind_text(8, now_text);
    upsert.step();
  }
  transaction.commit();
}

void SqliteModelTables::scan(int64_t start_us, int64_t end_us,
                             const std::function<void(const ModelEvent&)>& visit) const {
  static const std::string kSql =
      fmt::format("SELECT {} FROM {} WHERE timestamp >= ? AND timestamp < ? ORDER BY timestamp, id",
                  kEventColumns, kEventsTable);
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(kSql);
  select.bind_text(1, format_rfc3339_micros(start_us));
  select.bind_text(2, format_rfc3339_micros(end_us));
  ModelEvent e;
  while (select.step()) {
    auto type = parse_model_event_type(select.column_text(1));
    if (!type) throw StoreError("corrupt event_type in model_usage_events", StoreFailure::kCorrupt);
    e.event_id = select.column_text(0);
    e.event_type = *type;
    e.model_id = select.column_text(2);
    e.timestamp_us = stored_time(select.column_text(3), kEventsTable);
    e.duration_ms = select.column_optional_int64(4);
    e.success = select.is_null(5) ? std::nullopt : std::optional<bool>(select.column_int64(5) != 0);
    e.error_type = select.column_optional_text(6);
    e.error_message = select.column_optional_text(7);
    e.size_bytes = select.column_optional_int64(8);
    e.gpu_memory_mb = select.column_optional_int64(9);
    e.model_kind = select.column_optional_text(10);
    e.base_model = select.column_optional_text(11);
    e.reason = select.column_optional_text(12);
    e.worker_id = select.column_optional_text(13);
    visit(e);
  }
  select.reset();
}

}  // namespace genalytics
