#include "store/sqlite_model_usage_tables.h"

#include <fmt/format.h>

#include <array>
#include <string>
#include <vector>

#include "event/time.h"
#include "store/model_rollup_columns.h"
#include "store/sqlite_model_tables.h"
#include "store/sqlite_rollup_rows.h"

namespace genalytics {
namespace {

namespace usage_columns = model_usage_columns;
namespace param_columns = model_param_columns;
using rollup_columns::column_list;
using rollup_columns::placeholders;
using rollup_columns::sums;

}  // namespace

void SqliteModelUsageTables::merge(ModelUsageDelta& delta, size_t max_values_per_key_hour,
                                   const std::string& now_text) {
  static const SqliteModelHourSql kUsageSql =
      sqlite_model_hour_sql(usage_columns::kTable, usage_columns::kStateColumns);
  SqliteDatabase& writer = connections_.writer();
  merge_model_hour_rows(
      writer, kUsageSql, delta.usage(), now_text,
      [](const SqliteRow& row, int first) { return usage_columns::read_state(row, first); },
      [](SqliteBinds& out, const ModelUsageBucket& bucket) {
        usage_columns::write_state(out, bucket);
      });
  merge_params(delta, max_values_per_key_hour, now_text);
  merge_model_sightings(writer, delta.sightings(), now_text);
}

void SqliteModelUsageTables::merge_params(ModelUsageDelta& delta, size_t max_values_per_key_hour,
                                          const std::string& now_text) {
  // The values an (hour, model, key) already has, which the cap counts.
  static const std::string kValuesSql = fmt::format(
      "SELECT param_value FROM {} WHERE timestamp = ? AND model_id = ? AND param_key = ?",
      param_columns::kTable);
  // A ModelParamBucket's state is sums only, so the merge is an upsert adding
  // the delta's counters to the stored ones: no stored row is read back.
  static const std::string kUpsertSql = fmt::format(
      "INSERT INTO {0} ({1}, created_at, updated_at, {2}) VALUES (?,?,?,?,?,?,{3}) "
      "ON CONFLICT({1}) DO UPDATE SET updated_at = excluded.updated_at, {4}",
      param_columns::kTable, column_list(param_columns::kKeyColumns),
      column_list(param_columns::kStateColumns), placeholders(param_columns::kStateColumnCount),
      sums(param_columns::kStateColumns, "", "excluded."));

  SqliteDatabase& writer = connections_.writer();
  SqliteHourText hour_text;
  SqliteStatement& values = writer.prepare_cached(kValuesSql);
  delta.fold_param_values(max_values_per_key_hour, [&](int64_t hour_us, const std::string& model_id,
                                                       const std::string& key) {
    values.bind_text(1, hour_text(hour_us));
    values.bind_text(2, model_id);
    values.bind_text(3, key);
    std::vector<std::string> stored;
    while (values.step()) stored.emplace_back(values.column_text(0));
    values.reset();
    return stored;
  });

  SqliteStatement& upsert = writer.prepare_cached(kUpsertSql);
  for (const auto& [key, bucket] : delta.params()) {
    upsert.reset();
    upsert.bind_text(1, hour_text(key.hour_us));
    upsert.bind_text(2, key.model_id);
    upsert.bind_text(3, key.key);
    upsert.bind_text(4, key.value);
    upsert.bind_text(5, now_text);
    upsert.bind_text(6, now_text);
    SqliteBinds binds(upsert, 7);
    param_columns::write_state(binds, bucket);
    upsert.step();
  }
}

std::vector<ModelUsageRow> SqliteModelUsageTables::read_usage(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& model,
    bool sketches) const {
  SqliteConnections::Reader reader = connections_.reader();
  return read_usage_on(*reader, start_us, end_us, model, sketches);
}

std::vector<ModelUsageRow> SqliteModelUsageTables::read_usage_on(
    SqliteDatabase& db, int64_t start_us, int64_t end_us, const std::optional<std::string>& model,
    bool sketches) {
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
  SqliteStatement& select = db.prepare_cached(kSql[model.has_value()][sketches]);
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
  SqliteConnections::Reader reader = connections_.reader();
  return read_params_on(*reader, start_us, end_us, model);
}

std::vector<ModelParamRow> SqliteModelUsageTables::read_params_on(
    SqliteDatabase& db, int64_t start_us, int64_t end_us, const std::optional<std::string>& model) {
  static const std::string kSql = fmt::format(
      "SELECT {}, {} FROM {} WHERE timestamp >= ? AND timestamp < ? ORDER BY {}",
      column_list(param_columns::kKeyColumns), column_list(param_columns::kStateColumns),
      param_columns::kTable, column_list(param_columns::kKeyColumns));
  static const std::string kModelSql = fmt::format(
      "SELECT {}, {} FROM {} WHERE model_id = ? AND timestamp >= ? AND timestamp < ? ORDER BY {}",
      column_list(param_columns::kKeyColumns), column_list(param_columns::kStateColumns),
      param_columns::kTable, column_list(param_columns::kKeyColumns));
  SqliteStatement& select = db.prepare_cached(model ? kModelSql : kSql);
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
