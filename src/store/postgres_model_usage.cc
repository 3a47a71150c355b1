#include "store/postgres_model_usage.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <tuple>
#include <utility>

#include "store/model_rollup_columns.h"
#include "store/postgres_model_rollups.h"
#include "store/postgres_rows.h"
#include "store/rollup_columns.h"

namespace genalytics {
namespace {

namespace usage_columns = model_usage_columns;
namespace param_columns = model_param_columns;
using rollup_columns::column_list;

// model_usage_hourly, its states staged in genalytics_model_usage_states.
const PgModelHourTable& usage_table() {
  static const PgModelHourTable kTable =
      pg_model_hour_table(usage_columns::kTable, usage_columns::kStateColumns,
                          usage_columns::kCounterCount, "genalytics_model_usage_states");
  return kTable;
}

// The staging table of a batch's params rows.
constexpr std::string_view kParamRowsTable = "genalytics_model_param_rows";

// (hour, model_id, key) of a params group: the stored values of each.
using StoredParamValues =
    std::map<std::tuple<int64_t, std::string, std::string>, std::vector<std::string>>;

// The stored values of the params groups of `delta` whose stored and
// incoming values together may be over `cap`; the others fit whatever they
// hold, so they are not read.
StoredParamValues read_stored_param_values(PgConnection& c, const ModelUsageDelta& delta,
                                           size_t cap) {
  static const std::string kSql = fmt::format(
      "WITH k AS (SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::int8[]) "
      "AS k(timestamp, model_id, param_key, incoming)), "
      "crowded AS MATERIALIZED (SELECT k.timestamp, k.model_id, k.param_key FROM k "
      "WHERE k.incoming + (SELECT COUNT(*) FROM {0} s WHERE s.timestamp = k.timestamp AND "
      "s.model_id = k.model_id AND s.param_key = k.param_key) > $5::int8) "
      "SELECT {1}, p.model_id, p.param_key, p.param_value FROM crowded k JOIN {0} p "
      "ON p.timestamp = k.timestamp AND p.model_id = k.model_id AND p.param_key = k.param_key",
      param_columns::kTable, pg_epoch_us("p.timestamp"));
  // One entry per group, with the number of the delta's values in it.
  std::vector<std::string> hours, models, keys;
  std::vector<int64_t> counts;
  const ModelParamKey* group = nullptr;
  for (const auto& entry : delta.params()) {
    const ModelParamKey& key = entry.first;
    if (group == nullptr || group->hour_us != key.hour_us || group->model_id != key.model_id ||
        group->key != key.key) {
      group = &key;
      hours.push_back(pg_timestamp(key.hour_us));
      models.push_back(key.model_id);
      keys.push_back(key.key);
      counts.push_back(0);
    }
    ++counts.back();
  }
  StoredParamValues stored;
  if (hours.empty()) return stored;
  std::vector<std::string> incoming;
  incoming.reserve(counts.size());
  for (int64_t count : counts) incoming.push_back(std::to_string(count));
  const PgResult result =
      c.exec(kSql, PgParams()
                       .text(pg_array_literal(hours))
                       .text(pg_array_literal(models))
                       .text(pg_array_literal(keys))
                       .text(pg_array_literal(incoming))
                       .int64(static_cast<int64_t>(std::min<size_t>(cap, INT64_MAX))));
  for (int r = 0; r < result.rows(); ++r) {
    stored[{result.int64(r, 0), std::string(result.text(r, 1)), std::string(result.text(r, 2))}]
        .emplace_back(result.text(r, 3));
  }
  return stored;
}

// Merges the (already capped) params rows of `delta` into model_param_hourly.
// A ModelParamBucket's state is sums only, so the merge is an upsert adding
// the delta's counters to the stored ones: no stored row is read back.
void merge_param_rows(PgConnection& c, const ModelUsageDelta& delta) {
  static const std::string kCopySql =
      fmt::format("COPY {} (timestamp, model_id, param_key, param_value, {}) FROM STDIN",
                  kParamRowsTable, column_list(param_columns::kStateColumns));
  static const std::string kUpsertSql = fmt::format(
      "INSERT INTO {0} AS t (timestamp, model_id, param_key, param_value, {1}) "
      "SELECT timestamp, model_id, param_key, param_value, {1} FROM {2} "
      "ORDER BY timestamp, model_id, param_key, param_value "
      "ON CONFLICT (timestamp, model_id, param_key, param_value) DO UPDATE SET {3}, "
      "updated_at = NOW()",
      param_columns::kTable, column_list(param_columns::kStateColumns), kParamRowsTable,
      rollup_columns::sums(param_columns::kStateColumns, "t.", "excluded."));
  if (delta.params().empty()) return;
  PgCopyBuffer rows;
  for (const auto& [key, bucket] : delta.params()) {
    rows.add_text(pg_timestamp(key.hour_us));
    rows.add_text(key.model_id);
    rows.add_text(key.key);
    rows.add_text(key.value);
    PgCopyRow row(rows);
    param_columns::write_state(row, bucket);
    rows.end_row();
  }
  c.copy_from(kCopySql, rows.data());
  c.exec(kUpsertSql);
}

}  // namespace

std::string model_usage_staging_sql() {
  std::string counters;
  for (const char* column : param_columns::kStateColumns) {
    counters += fmt::format(", {} bigint", column);
  }
  return fmt::format(
      "{};CREATE TEMP TABLE IF NOT EXISTS {} (timestamp timestamptz, model_id text, "
      "param_key text, param_value text{}) ON COMMIT DELETE ROWS;{}",
      usage_table().create_staging, kParamRowsTable, counters, model_sightings_staging_sql());
}

void merge_model_usage(PgConnection& c, ModelUsageDelta& delta,
                       size_t max_values_per_dimension_hour) {
  if (delta.empty()) return;
  // Locks the (hour, model) rows first: a concurrent writer of the same
  // model and hour waits here, so the values read below are all the groups
  // have, and the cap holds whatever the number of writers.
  merge_model_hour_rows(
      c, usage_table(), delta.usage(),
      [](const PgRow& row, int first) { return usage_columns::read_state(row, first); },
      [](PgCopyRow& out, const ModelUsageBucket& bucket) {
        usage_columns::write_state(out, bucket);
      });
  const StoredParamValues stored =
      read_stored_param_values(c, delta, max_values_per_dimension_hour);
  delta.fold_param_values(max_values_per_dimension_hour,
                          [&](int64_t hour_us, const std::string& model_id,
                              const std::string& key) -> std::vector<std::string> {
                            auto it = stored.find({hour_us, model_id, key});
                            return it == stored.end() ? std::vector<std::string>() : it->second;
                          });
  merge_param_rows(c, delta);
  merge_model_sightings(c, delta.sightings());
}

std::vector<ModelUsageRow> read_model_usage(PgConnection& c, int64_t start_us,
                                            int64_t end_us, const std::optional<std::string>& model,
                                            bool sketches) {
  // [model given][sketches wanted]; models in byte order, as SqliteStore
  // returns them, whatever the collation.
  static const std::array<std::array<std::string, 2>, 2> kSql = [] {
    std::array<std::array<std::string, 2>, 2> sql;
    for (bool with_model : {false, true}) {
      for (bool with_sketches : {false, true}) {
        sql[with_model][with_sketches] = fmt::format(
            "SELECT {}, model_id, {} FROM {} "
            "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz {}"
            "ORDER BY timestamp, model_id COLLATE \"C\"",
            pg_epoch_us("timestamp"), usage_columns::state_select_list(with_sketches),
            usage_columns::kTable, with_model ? "AND model_id = $3::text " : "");
      }
    }
    return sql;
  }();
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return {};
  PgParams params;
  params.text(pg_timestamp(start_us)).text(pg_timestamp(end_us));
  if (model) params.text(*model);
  const std::string& sql = kSql[model.has_value()][sketches];
  const PgResult result = c.exec(sql, params, PgFormat::kBinary);
  std::vector<ModelUsageRow> rows;
  rows.reserve(result.rows());
  for (int r = 0; r < result.rows(); ++r) {
    rows.push_back(ModelUsageRow{ModelHourKey{result.int64(r, 0), std::string(result.text(r, 1))},
                                 usage_columns::read_state(PgRow(result, r), 2)});
  }
  return rows;
}

std::vector<ModelParamRow> read_model_params(PgConnection& c, int64_t start_us,
                                             int64_t end_us,
                                             const std::optional<std::string>& model) {
  static const std::string kSql = fmt::format(
      "SELECT {}, model_id, param_key, param_value, {} FROM {} "
      "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz",
      pg_epoch_us("timestamp"), column_list(param_columns::kStateColumns), param_columns::kTable);
  static const std::string kOrder =
      " ORDER BY timestamp, model_id COLLATE \"C\", param_key COLLATE \"C\", "
      "param_value COLLATE \"C\"";
  static const std::string kAllSql = kSql + kOrder;
  static const std::string kModelSql = kSql + " AND model_id = $3::text" + kOrder;
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return {};
  PgParams params;
  params.text(pg_timestamp(start_us)).text(pg_timestamp(end_us));
  if (model) params.text(*model);
  const PgResult result = c.exec(model ? kModelSql : kAllSql, params, PgFormat::kBinary);
  std::vector<ModelParamRow> rows;
  rows.reserve(result.rows());
  for (int r = 0; r < result.rows(); ++r) {
    rows.push_back(
        ModelParamRow{ModelParamKey{result.int64(r, 0), std::string(result.text(r, 1)),
                                    std::string(result.text(r, 2)), std::string(result.text(r, 3))},
                      param_columns::read_state(PgRow(result, r), 4)});
  }
  return rows;
}

void scan_model_uses(
    PostgresConnectionPool& pool, int64_t start_us, int64_t end_us,
    const std::function<void(int64_t timestamp_us, std::span<const ModelUse> uses)>& visit) {
  static const std::string kSql = fmt::format(
      "SELECT {}, model_checkpoint, params::text FROM generation_events "
      "WHERE event_type = 'request' AND timestamp >= $1::timestamptz AND "
      "timestamp < $2::timestamptz ORDER BY timestamp",
      pg_epoch_us("timestamp"));
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return;
  const PgResult result = pool.with_connection([&](PgConnection& c) {
    return c.exec(kSql, PgParams().text(pg_timestamp(start_us)).text(pg_timestamp(end_us)));
  });
  for (int r = 0; r < result.rows(); ++r) {
    const std::vector<ModelUse> uses =
        models_used(result.optional_text(r, 1), result.optional_text(r, 2));
    if (!uses.empty()) visit(result.int64(r, 0), uses);
  }
}

}  // namespace genalytics
