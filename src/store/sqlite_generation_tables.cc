#include "store/sqlite_generation_tables.h"

#include <fmt/format.h>

#include "event/time.h"
#include "rollup/model_rollup.h"
#include "store/generation_rollup_columns.h"
#include "store/sqlite_event_batch.h"
#include "store/sqlite_rollup_rows.h"

namespace genalytics {
namespace {

namespace columns = generation_columns;
using rollup_columns::assignments;
using rollup_columns::column_list;
using rollup_columns::placeholders;

constexpr const char* kHourlyTable = "generation_metrics_hourly";
constexpr const char* kDimensionTable = "generation_dimension_hourly";

constexpr const char* kInsertEventSql =
    "INSERT OR IGNORE INTO generation_events (event_type, generation_id, user_id, timestamp, "
    "generation_type, duration_ms, success, error_type, error_message, queue_wait_time_ms, "
    "generation_time_ms, model_checkpoint, image_dimensions, batch_size, prompt_tokens, "
    "created_at, event_id, costs, tokens, params, attributes, retry_count, gpu_memory_mb, "
    "queue_length) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

void bind_event(SqliteStatement& insert, const GenerationEvent& e, const std::string& now_text) {
  insert.bind_text(1, to_string(e.event_type));
  insert.bind_text(2, e.generation_id);
  insert.bind_optional_text(3, e.user_id);
  insert.bind_text(4, format_rfc3339_micros(e.timestamp_us));
  insert.bind_optional_text(5, e.generation_type);
  insert.bind_optional_int64(6, e.duration_ms);
  if (e.success) {
    insert.bind_int64(7, *e.success ? 1 : 0);
  } else {
    insert.bind_null(7);
  }
  insert.bind_optional_text(8, e.error_type);
  insert.bind_optional_text(9, e.error_message);
  insert.bind_optional_int64(10, e.queue_wait_time_ms);
  insert.bind_optional_int64(11, e.generation_time_ms);
  insert.bind_optional_text(12, e.model_checkpoint);
  insert.bind_optional_text(13, e.image_dimensions_json);
  insert.bind_optional_int64(14, e.batch_size);
  insert.bind_optional_int64(15, e.prompt_tokens);
  insert.bind_text(16, now_text);
  insert.bind_text(17, e.event_id);
  insert.bind_optional_text(18, e.costs_json);
  insert.bind_optional_text(19, e.tokens_json);
  insert.bind_optional_text(20, e.params_json);
  insert.bind_optional_text(21, e.attributes_json);
  insert.bind_optional_int64(22, e.retry_count);
  insert.bind_optional_int64(23, e.gpu_memory_mb);
  insert.bind_optional_int64(24, e.queue_length);
}

constexpr RollupColumns kEveryColumn{true, true, true};

}  // namespace

void SqliteGenerationTables::write(std::span<const GenerationEvent> events,
                                   std::vector<uint8_t>* inserted) {
  const std::string now_text = format_rfc3339_micros(now_us());
  uint64_t seq = 0;
  std::vector<RollupCache::Key> touched;
  SqliteDatabase& writer = connections_.writer();
  write_event_batch<GenerationDeltas>(
      writer, kInsertEventSql, events, inserted,
      [&](SqliteStatement& insert, const GenerationEvent& e) { bind_event(insert, e, now_text); },
      [&](GenerationDeltas& batch_delta) {
        RollupDelta& delta = batch_delta.rollups;
        SqliteStatement& values = writer.prepare_cached(
            "SELECT value FROM generation_dimension_hourly WHERE dimension = ? AND timestamp = ?");
        delta.fold_attribute_values(max_values_per_dimension_hour_,
                                    [&](int64_t hour_us, const Dimension& dimension) {
                                      values.bind_text(1, to_string(dimension));
                                      values.bind_text(2, format_rfc3339_micros(hour_us));
                                      std::vector<std::string> stored;
                                      while (values.step())
                                        stored.emplace_back(values.column_text(0));
                                      values.reset();
                                      return stored;
                                    });
        for (const auto& [key, bucket] : delta.buckets()) merge_rollup(key, bucket, now_text);
        SqliteStatement& bump = writer.prepare_cached(
            "UPDATE rollup_sequence SET seq = seq + 1 WHERE id = 1 RETURNING seq");
        if (!bump.step()) throw StoreError("rollup_sequence has no row", StoreFailure::kCorrupt);
        seq = static_cast<uint64_t>(bump.column_int64(0));
        bump.reset();
        for (const auto& [key, bucket] : delta.buckets()) {
          if (touched.empty() || touched.back() != RollupCache::Key{key.dimension, key.hour_us}) {
            touched.push_back(RollupCache::Key{key.dimension, key.hour_us});
          }
        }
        model_usage_.merge(batch_delta.models, max_values_per_dimension_hour_, now_text);
      });
  if (seq != 0) cache_.invalidate(seq, touched);
}

void SqliteGenerationTables::merge_rollup(const RollupKey& key, const RollupBucket& delta,
                                          const std::string& now_text) {
  static const std::string kSelectAll =
      fmt::format("SELECT {} FROM {} WHERE timestamp = ?", columns::state_select_list(kEveryColumn),
                  kHourlyTable);
  static const std::string kSelectDimension =
      fmt::format("SELECT {} FROM {} WHERE dimension = ? AND timestamp = ? AND value = ?",
                  columns::state_select_list(kEveryColumn), kDimensionTable);
  // The seed's per-hour columns are derived from the merged state on every write.
  static const std::string kUpsertAll = fmt::format(
      "INSERT INTO {} (timestamp, created_at, updated_at, {}, {}) VALUES (?,?,?,{}) "
      "ON CONFLICT(timestamp) DO UPDATE SET updated_at = excluded.updated_at, {}, {}",
      kHourlyTable, column_list(columns::kDerived), column_list(columns::kStateColumns),
      placeholders(static_cast<int>(std::size(columns::kDerived)) + columns::kStateColumnCount),
      assignments(columns::kDerived, "excluded."),
      assignments(columns::kStateColumns, "excluded."));
  static const std::string kUpsertDimension = fmt::format(
      "INSERT INTO {} (dimension, timestamp, value, created_at, updated_at, {}) "
      "VALUES (?,?,?,?,?,{}) ON CONFLICT(dimension, timestamp, value) DO UPDATE "
      "SET updated_at = excluded.updated_at, {}",
      kDimensionTable, column_list(columns::kStateColumns),
      placeholders(columns::kStateColumnCount), assignments(columns::kStateColumns, "excluded."));

  SqliteDatabase& writer = connections_.writer();
  const std::string hour_text = format_rfc3339_micros(key.hour_us);
  const bool all = key.dimension == Dimension::kAll;
  RollupBucket merged;
  SqliteStatement& select = writer.prepare_cached(all ? kSelectAll : kSelectDimension);
  if (all) {
    select.bind_text(1, hour_text);
  } else {
    select.bind_text(1, to_string(key.dimension));
    select.bind_text(2, hour_text);
    select.bind_text(3, key.value);
  }
  if (select.step()) {
    merged = columns::read_state(SqliteRow(select), 0, all ? kHourlyTable : kDimensionTable);
  }
  select.reset();
  merged.merge(delta);

  SqliteStatement& upsert = writer.prepare_cached(all ? kUpsertAll : kUpsertDimension);
  if (all) {
    upsert.bind_text(1, hour_text);
    upsert.bind_text(2, now_text);
    upsert.bind_text(3, now_text);
    SqliteBinds binds(upsert, 4);
    columns::write_derived(binds, columns::derived_figures(merged));
    columns::write_state(binds, merged);
  } else {
    upsert.bind_text(1, to_string(key.dimension));
    upsert.bind_text(2, hour_text);
    upsert.bind_text(3, key.value);
    upsert.bind_text(4, now_text);
    upsert.bind_text(5, now_text);
    SqliteBinds binds(upsert, 6);
    columns::write_state(binds, merged);
  }
  upsert.step();
}

std::vector<RollupRow> SqliteGenerationTables::read_rollups(Dimension dimension, int64_t start_us,
                                                            int64_t end_us,
                                                            const std::optional<std::string>& value,
                                                            const RollupColumns& columns) const {
  SqliteConnections::Reader reader = connections_.reader();
  return read_rollups_on(*reader, dimension, start_us, end_us, value, columns);
}

std::vector<RollupRow> SqliteGenerationTables::read_rollups_on(
    SqliteDatabase& db, Dimension dimension, int64_t start_us, int64_t end_us,
    const std::optional<std::string>& value, const RollupColumns& wanted) {
  const bool all = dimension == Dimension::kAll;
  const char* table = all ? kHourlyTable : kDimensionTable;
  std::string sql =
      all ? fmt::format(
                "SELECT timestamp, '', {} FROM {} WHERE "
                "timestamp >= ? AND timestamp < ? ORDER BY timestamp",
                columns::state_select_list(wanted), table)
          : fmt::format(
                "SELECT timestamp, value, {} FROM {} WHERE "
                "dimension = ? AND timestamp >= ? AND timestamp < ? {} "
                "ORDER BY timestamp, value",
                columns::state_select_list(wanted), table, value ? "AND value = ?" : "");
  SqliteStatement& select = db.prepare_cached(sql);
  int i = 1;
  if (!all) select.bind_text(i++, to_string(dimension));
  select.bind_text(i++, format_rfc3339_micros(start_us));
  select.bind_text(i++, format_rfc3339_micros(end_us));
  if (!all && value) select.bind_text(i++, *value);
  std::vector<RollupRow> rows;
  while (select.step()) {
    auto hour = parse_rfc3339(select.column_text(0));
    if (!hour) {
      throw StoreError(fmt::format("corrupt timestamp in {}", table), StoreFailure::kCorrupt);
    }
    rows.push_back(RollupRow{RollupKey{*hour, dimension, std::string(select.column_text(1))},
                             columns::read_state(SqliteRow(select), 2, table)});
  }
  select.reset();
  return rows;
}

void SqliteGenerationTables::visit_rollups(
    Dimension dimension, int64_t start_us, int64_t end_us, const std::optional<std::string>& value,
    const RollupColumns& columns, const std::function<void(const RollupRow&)>& visit) const {
  cache_.visit_window(
      dimension, start_us, end_us, value,
      [&](const auto& body) {
        in_snapshot([&](SqliteDatabase& db, uint64_t seq) {
          body(seq, [&](int64_t run_start, int64_t run_end) {
            return read_rollups_on(db, dimension, run_start, run_end, std::nullopt, kEveryColumn);
          });
        });
      },
      [&] { return read_rollups(dimension, start_us, end_us, value, columns); }, visit);
}

ModelSpans SqliteGenerationTables::read_model_spans(int64_t start_us, int64_t end_us,
                                                    std::span<const int64_t> cuts) const {
  return model_spans_.read(start_us, end_us, cuts, [&](const auto& body) {
    in_snapshot([&](SqliteDatabase& db, uint64_t seq) {
      body(seq, [&](int64_t run_start, int64_t run_end) {
        return ModelSpanCache::Rows{
            model_usage_.read_usage_on(db, run_start, run_end, std::nullopt, true),
            model_usage_.read_params_on(db, run_start, run_end, std::nullopt)};
      });
    });
  });
}

void SqliteGenerationTables::in_snapshot(
    const std::function<void(SqliteDatabase& db, uint64_t seq)>& body) const {
  SqliteConnections::Reader reader = connections_.reader();
  SqliteTransaction snapshot(*reader, SqliteTransaction::Mode::kRead);
  SqliteStatement& sequence = reader->prepare_cached("SELECT seq FROM rollup_sequence");
  if (!sequence.step()) throw StoreError("rollup_sequence has no row", StoreFailure::kCorrupt);
  const auto seq = static_cast<uint64_t>(sequence.column_int64(0));
  sequence.reset();
  body(*reader, seq);
}

namespace {
constexpr const char* kScanColumns =
    "SELECT event_type, generation_id, timestamp, generation_type, duration_ms, success, "
    "error_type, error_message, queue_wait_time_ms, generation_time_ms, model_checkpoint, "
    "batch_size, queue_length, event_id, user_id FROM generation_events ";
}  // namespace

void SqliteGenerationTables::scan(const std::string& sql,
                                  const std::function<void(SqliteStatement&)>& bind,
                                  const std::function<void(const GenerationEvent&)>& visit) const {
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(sql);
  bind(select);
  GenerationEvent e;
  while (select.step()) {
    auto type = parse_generation_event_type(select.column_text(0));
    auto timestamp = parse_rfc3339(select.column_text(2));
    if (!type || !timestamp) {
      throw StoreError("corrupt row in generation_events", StoreFailure::kCorrupt);
    }
    e.event_type = *type;
    e.generation_id = select.column_text(1);
    e.timestamp_us = *timestamp;
    e.generation_type = select.column_optional_text(3);
    e.duration_ms = select.column_optional_int64(4);
    e.success = select.is_null(5) ? std::nullopt : std::optional<bool>(select.column_int64(5) != 0);
    e.error_type = select.column_optional_text(6);
    e.error_message = select.column_optional_text(7);
    e.queue_wait_time_ms = select.column_optional_int64(8);
    e.generation_time_ms = select.column_optional_int64(9);
    e.model_checkpoint = select.column_optional_text(10);
    e.batch_size = select.column_optional_int64(11);
    e.queue_length = select.column_optional_int64(12);
    e.event_id = select.column_text(13);
    e.user_id = select.column_optional_text(14);
    visit(e);
  }
  select.reset();
}

void SqliteGenerationTables::scan_user_events(
    const std::string& user_id, int64_t start_us, int64_t end_us,
    const std::function<void(const GenerationEvent&)>& visit) const {
  static const std::string kSql =
      std::string(kScanColumns) +
      "WHERE user_id = ? AND timestamp >= ? AND timestamp < ? ORDER BY timestamp";
  scan(
      kSql,
      [&](SqliteStatement& s) {
        s.bind_text(1, user_id);
        s.bind_text(2, format_rfc3339_micros(start_us));
        s.bind_text(3, format_rfc3339_micros(end_us));
      },
      visit);
}

void SqliteGenerationTables::scan_events(
    int64_t start_us, int64_t end_us,
    const std::function<void(const GenerationEvent&)>& visit) const {
  static const std::string kSql =
      std::string(kScanColumns) + "WHERE timestamp >= ? AND timestamp < ? ORDER BY timestamp";
  scan(
      kSql,
      [&](SqliteStatement& s) {
        s.bind_text(1, format_rfc3339_micros(start_us));
        s.bind_text(2, format_rfc3339_micros(end_us));
      },
      visit);
}

int64_t SqliteGenerationTables::count() const {
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& count = reader->prepare_cached("SELECT COUNT(*) FROM generation_events");
  count.step();
  int64_t n = count.column_int64(0);
  count.reset();
  return n;
}

StoreStatus SqliteGenerationTables::status() const {
  SqliteConnections::Reader reader = connections_.reader();
  StoreStatus status;
  status.events = count();
  auto optional_time = [](const SqliteStatement& s, int column) -> std::optional<int64_t> {
    if (s.is_null(column)) return std::nullopt;
    return parse_rfc3339(s.column_text(column));
  };
  SqliteStatement& last = reader->prepare_cached("SELECT MAX(timestamp) FROM generation_events");
  last.step();
  status.last_event_us = optional_time(last, 0);
  last.reset();
  SqliteStatement& hourly = reader->prepare_cached(
      "SELECT MAX(timestamp), MAX(updated_at), COUNT(*) FROM generation_metrics_hourly");
  hourly.step();
  status.last_hour_rolled_up_us = optional_time(hourly, 0);
  status.last_rollup_update_us = optional_time(hourly, 1);
  status.hourly_rows = hourly.column_int64(2);
  hourly.reset();
  return status;
}

}  // namespace genalytics
