#include "store/sqlite_model_usage_tables.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

#include "event/time.h"
#include "store/model_rollup_columns.h"
#include "store/sqlite_model_tables.h"
#include "store/sqlite_rollup_rows.h"

namespace genalytics {
namespace {

namespace usage_columns = model_usage_columns;
namespace param_columns = model_param_columns;
using rollup_columns::assignments;
using rollup_columns::column_list;
using rollup_columns::placeholders;

bool same_group(const ModelParamKey& a, const ModelParamKey& b) {
  return a.hour_us == b.hour_us && a.model_id == b.model_id && a.key == b.key;
}

// The stored text of an hour, formatted again only when the hour changes:
// a delta's rows come in hour order.
class HourText {
 public:
  const std::string& operator()(int64_t hour_us) {
    if (hour_us_ != hour_us) {
      hour_us_ = hour_us;
      text_ = format_rfc3339_micros(hour_us);
    }
    return text_;
  }

 private:
  std::optional<int64_t> hour_us_;
  std::string text_;
};

}  // namespace

void SqliteModelUsageTables::merge(ModelUsageDelta& delta, size_t max_values_per_key_hour,
                                   const std::string& now_text) {
  for (const auto& [key, bucket] : delta.usage()) merge_usage(key, bucket, now_text);
  merge_params(delta, max_values_per_key_hour, now_text);
  merge_model_sightings(connections_.writer(), delta.sightings(), ModelSightingSource::kGeneration,
                        now_text);
}

void SqliteModelUsageTables::merge_usage(const ModelHourKey& key, const ModelUsageBucket& delta,
                                         const std::string& now_text) {
  static const std::string kSelectSql =
      fmt::format("SELECT {} FROM {} WHERE timestamp = ? AND model_id = ?",
                  usage_columns::state_select_list(true), usage_columns::kTable);
  static const std::string kUpsertSql = fmt::format(
      "INSERT INTO {} (timestamp, model_id, created_at, updated_at, {}) VALUES (?,?,?,?,{}) "
      "ON CONFLICT(timestamp, model_id) DO UPDATE SET updated_at = excluded.updated_at, {}",
      usage_columns::kTable, column_list(usage_columns::kStateColumns),
      placeholders(usage_columns::kStateColumnCount),
      assignments(usage_columns::kStateColumns, "excluded."));

  SqliteDatabase& writer = connections_.writer();
  const std::string hour_text = format_rfc3339_micros(key.hour_us);
  ModelUsageBucket merged;
  SqliteStatement& select = writer.prepare_cached(kSelectSql);
  select.bind_text(1, hour_text);
  select.bind_text(2, key.model_id);
  if (select.step()) merged = usage_columns::read_state(SqliteRow(select), 0);
  select.reset();
  merged.merge(delta);

  SqliteStatement& upsert = writer.prepare_cached(kUpsertSql);
  upsert.bind_text(1, hour_text);
  upsert.bind_text(2, key.model_id);
  upsert.bind_text(3, now_text);
  upsert.bind_text(4, now_text);
  SqliteBinds binds(upsert, 5);
  usage_columns::write_state(binds, merged);
  upsert.step();
}

void SqliteModelUsageTables::merge_params(ModelUsageDelta& delta, size_t max_values_per_key_hour,
                                          const std::string& now_text) {
  // One read per (hour, model, key) gives both the values the cap counts
  // and the state each value's merge starts from; in param_value order.
  static const std::string kStoredSql = fmt::format(
      "SELECT param_value, {} FROM {} WHERE timestamp = ? AND model_id = ? AND param_key = ? "
      "ORDER BY param_value",
      column_list(param_columns::kStateColumns), param_columns::kTable);
  static const std::string kUpsertSql = fmt::format(
      "INSERT INTO {} ({}, created_at, updated_at, {}) VALUES (?,?,?,?,?,?,{}) "
      "ON CONFLICT({}) DO UPDATE SET updated_at = excluded.updated_at, {}",
      param_columns::kTable, column_list(param_columns::kKeyColumns),
      column_list(param_columns::kStateColumns), placeholders(param_columns::kStateColumnCount),
      column_list(param_columns::kKeyColumns),
      assignments(param_columns::kStateColumns, "excluded."));

  SqliteDatabase& writer = connections_.writer();
  // The stored rows of each (hour, model, key) of the delta, in key order.
  struct StoredGroup {
    std::vector<std::string> values;
    std::vector<ModelParamBucket> buckets;
  };
  std::vector<StoredGroup> stored;
  HourText hour_text;
  SqliteStatement& select = writer.prepare_cached(kStoredSql);
  delta.fold_param_values(max_values_per_key_hour, [&](int64_t hour_us, const std::string& model_id,
                                                       const std::string& key) {
    StoredGroup& group = stored.emplace_back();
    select.bind_text(1, hour_text(hour_us));
    select.bind_text(2, model_id);
    select.bind_text(3, key);
    while (select.step()) {
      group.values.emplace_back(select.column_text(0));
      group.buckets.push_back(param_columns::read_state(SqliteRow(select), 1));
    }
    select.reset();
    return group.values;
  });

  SqliteStatement& upsert = writer.prepare_cached(kUpsertSql);
  size_t group = 0;
  const ModelParamKey* previous = nullptr;
  for (const auto& [key, bucket] : delta.params()) {
    if (previous && !same_group(*previous, key)) ++group;
    previous = &key;
    const StoredGroup& rows = stored[group];
    ModelParamBucket merged;
    const auto found = std::lower_bound(rows.values.begin(), rows.values.end(), key.value);
    if (found != rows.values.end() && *found == key.value) {
      merged = rows.buckets[found - rows.values.begin()];
    }
    merged.merge(bucket);
    upsert.reset();
    upsert.bind_text(1, hour_text(key.hour_us));
    upsert.bind_text(2, key.model_id);
    upsert.bind_text(3, key.key);
    upsert.bind_text(4, key.value);
    upsert.bind_text(5, now_text);
    upsert.bind_text(6, now_text);
    SqliteBinds binds(upsert, 7);
    param_columns::write_state(binds, merged);
    upsert.step();
  }
}

std::vector<ModelUsageRow> SqliteModelUsageTables::read_usage(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& model,
    bool sketches) const {
  // [model given][sketches wanted]
  static const std::array<std::array<std::string, 2>, 2> kSql = [] {
    std::array<std::array<std::string, 2>, 2> sql;
    for (bool with_sketches : {false, true}) {
      sql[0][with_sketches] = fmt::format(
          "SELECT timestamp, model_id, {} FROM {} WHERE timestamp >= ? AND timestamp < ? "
          "ORDER BY timestamp, model_id",
          usage_columns::state_select_list(with_sketches), usage_columns::kTable);
      sql[1][with_sketches] = fmt::format(
          "SELECT timestamp, model_id, {} FROM {} WHERE model_id = ? AND timestamp >= ? "
          "AND timestamp < ? ORDER BY timestamp",
          usage_columns::state_select_list(with_sketches), usage_columns::kTable);
    }
    return sql;
  }();
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(kSql[model.has_value()][sketches]);
  int i = 1;
  if (model) select.bind_text(i++, *model);
  select.bind_text(i++, format_rfc3339_micros(start_us));
  select.bind_text(i++, format_rfc3339_micros(end_us));
  std::vector<ModelUsageRow> rows;
  while (select.step()) {
    rows.push_back(
        ModelUsageRow{ModelHourKey{stored_time(select.column_text(0), usage_columns::kTable),
                                   std::string(select.column_text(1))},
                      usage_columns::read_state(SqliteRow(select), 2)});
  }
  select.reset();
  return rows;
}

std::vector<ModelParamRow> SqliteModelUsageTables::read_params(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& model) const {
  static const std::string kSql = fmt::format(
      "SELECT {}, {} FROM {} WHERE timestamp >= ? AND timestamp < ? ORDER BY {}",
      column_list(param_columns::kKeyColumns), column_list(param_columns::kStateColumns),
      param_columns::kTable, column_list(param_columns::kKeyColumns));
  static const std::string kModelSql = fmt::format(
      "SELECT {}, {} FROM {} WHERE model_id = ? AND timestamp >= ? AND timestamp < ? ORDER BY {}",
      column_list(param_columns::kKeyColumns), column_list(param_columns::kStateColumns),
      param_columns::kTable, column_list(param_columns::kKeyColumns));
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(model ? kModelSql : kSql);
  int i = 1;
  if (model) select.bind_text(i++, *model);
  select.bind_text(i++, format_rfc3339_micros(start_us));
  select.bind_text(i++, format_rfc3339_micros(end_us));
  std::vector<ModelParamRow> rows;
  while (select.step()) {
    rows.push_back(ModelParamRow{
        ModelParamKey{stored_time(select.column_text(0), param_columns::kTable),
                      std::string(select.column_text(1)), std::string(select.column_text(2)),
                      std::string(select.column_text(3))},
        param_columns::read_state(SqliteRow(select), 4)});
  }
  select.reset();
  return rows;
}

void SqliteModelUsageTables::scan_uses(
    int64_t start_us, int64_t end_us,
    const std::function<void(int64_t timestamp_us, std::span<const ModelUse> uses)>& visit) const {
  static const std::string kSql = fmt::format(
      "SELECT timestamp, model_checkpoint, params FROM generation_events WHERE event_type = '{}' "
      "AND timestamp >= ? AND timestamp < ? ORDER BY timestamp",
      to_string(GenerationEventType::kRequest));
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(kSql);
  select.bind_text(1, format_rfc3339_micros(start_us));
  select.bind_text(2, format_rfc3339_micros(end_us));
  while (select.step()) {
    const std::vector<ModelUse> uses =
        models_used(select.column_optional_text(1), select.column_optional_text(2));
    if (uses.empty()) continue;
    visit(stored_time(select.column_text(0), "generation_events"), uses);
  }
  select.reset();
}

}  // namespace genalytics
