#include "store/sqlite_route_tables.h"

#include <fmt/format.h>

#include <algorithm>

#include "event/time.h"
#include "rollup/route_rollup.h"
#include "store/route_rollup_columns.h"
#include "store/sqlite_event_batch.h"
#include "store/sqlite_rollup_rows.h"

namespace genalytics {
namespace {

namespace columns = route_columns;
using rollup_columns::assignments;
using rollup_columns::column_list;
using rollup_columns::placeholders;

constexpr const char* kHourlyTable = "route_analytics_hourly";

// The columns of route_analytics an event is stored in, in bind order.
constexpr const char* kEventColumns =
    "event_id, route, route_full, method, user_id, timestamp, duration_ms, status_code, "
    "query_params, query_params_normalized, request_size_bytes, response_size_bytes, "
    "error_type, db_query_count, cache_status";
constexpr int kEventColumnCount = 15;

void bind_event(SqliteStatement& insert, const RouteEvent& e, const std::string& now_text) {
  insert.bind_text(1, e.event_id);
  insert.bind_text(2, e.route);
  insert.bind_text(3, e.route_full);
  insert.bind_text(4, e.method);
  insert.bind_optional_text(5, e.user_id);
  insert.bind_text(6, format_rfc3339_micros(e.timestamp_us));
  insert.bind_int64(7, e.duration_ms);
  insert.bind_int64(8, e.status_code);
  insert.bind_text(9, e.query_params_json);
  insert.bind_text(10, e.query_params_normalized_json);
  insert.bind_optional_int64(11, e.request_size_bytes);
  insert.bind_optional_int64(12, e.response_size_bytes);
  insert.bind_optional_text(13, e.error_type);
  insert.bind_optional_int64(14, e.db_query_count);
  insert.bind_optional_text(15, e.cache_status);
  insert.bind_text(kEventColumnCount + 1, now_text);
}

}  // namespace

void SqliteRouteTables::write(std::span<const RouteEvent> events, std::vector<uint8_t>* inserted) {
  static const std::string kInsertSql =
      fmt::format("INSERT INTO route_analytics ({}, created_at) VALUES ({}) "
                  "ON CONFLICT(event_id) DO NOTHING",
                  kEventColumns, placeholders(kEventColumnCount + 1));
  const std::string now_text = format_rfc3339_micros(now_us());
  write_event_batch<RouteDelta>(
      connections_.writer(), kInsertSql, events, inserted,
      [&](SqliteStatement& insert, const RouteEvent& e) { bind_event(insert, e, now_text); },
      [&](const RouteDelta& delta) {
        for (const auto& [key, bucket] : delta.buckets()) merge_rollup(key, bucket, now_text);
      });
}

void SqliteRouteTables::merge_rollup(const RouteKey& key, const RouteBucket& delta,
                                     const std::string& now_text) {
  static const std::string kSelectSql = fmt::format(
      "SELECT {} FROM {} WHERE timestamp = ? AND route = ? AND method = ? "
      "AND query_params_normalized = ?",
      column_list(columns::kStateColumns), kHourlyTable);
  // The seed's per-hour columns are derived from the merged state on every write.
  static const std::string kUpsertSql = fmt::format(
      "INSERT INTO {} (timestamp, route, method, query_params_normalized, created_at, "
      "updated_at, {}, {}) VALUES (?,?,?,?,?,?,{}) "
      "ON CONFLICT(timestamp, route, method, query_params_normalized) DO UPDATE SET "
      "updated_at = excluded.updated_at, {}, {}",
      kHourlyTable, column_list(columns::kDerived), column_list(columns::kStateColumns),
      placeholders(static_cast<int>(std::size(columns::kDerived)) + columns::kStateColumnCount),
      assignments(columns::kDerived, "excluded."),
      assignments(columns::kStateColumns, "excluded."));

  SqliteDatabase& writer = connections_.writer();
  const std::string hour_text = format_rfc3339_micros(key.hour_us);
  auto bind_key = [&](SqliteStatement& s) {
    s.bind_text(1, hour_text);
    s.bind_text(2, key.route);
    s.bind_text(3, key.method);
    s.bind_text(4, key.query_params_normalized_json);
  };
  RouteBucket merged;
  SqliteStatement& select = writer.prepare_cached(kSelectSql);
  bind_key(select);
  if (select.step()) merged = columns::read_state(SqliteRow(select), 0, kHourlyTable);
  select.reset();
  merged.merge(delta);

  SqliteStatement& upsert = writer.prepare_cached(kUpsertSql);
  bind_key(upsert);
  upsert.bind_text(5, now_text);
  upsert.bind_text(6, now_text);
  SqliteBinds binds(upsert, 7);
  columns::write_derived(binds, columns::derived_figures(merged));
  columns::write_state(binds, merged);
  upsert.step();
}

std::vector<RouteRollupRow> SqliteRouteTables::read_rollups(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& route) const {
  static const std::string kSql = fmt::format(
      "SELECT timestamp, route, method, query_params_normalized, {} FROM {} "
      "WHERE timestamp >= ? AND timestamp < ? ORDER BY timestamp, route, method, "
      "query_params_normalized",
      column_list(columns::kStateColumns), kHourlyTable);
  static const std::string kRouteSql = fmt::format(
      "SELECT timestamp, route, method, query_params_normalized, {} FROM {} "
      "WHERE route = ? AND timestamp >= ? AND timestamp < ? ORDER BY timestamp, method, "
      "query_params_normalized",
      column_list(columns::kStateColumns), kHourlyTable);
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(route ? kRouteSql : kSql);
  int i = 1;
  if (route) select.bind_text(i++, *route);
  select.bind_text(i++, format_rfc3339_micros(start_us));
  select.bind_text(i++, format_rfc3339_micros(end_us));
  std::vector<RouteRollupRow> rows;
  while (select.step()) {
    auto hour = parse_rfc3339(select.column_text(0));
    if (!hour) {
      throw StoreError("corrupt timestamp in route_analytics_hourly", StoreFailure::kCorrupt);
    }
    rows.push_back(RouteRollupRow{
        RouteKey{*hour, std::string(select.column_text(1)), std::string(select.column_text(2)),
                 std::string(select.column_text(3))},
        columns::read_state(SqliteRow(select), 4, kHourlyTable)});
  }
  select.reset();
  return rows;
}

std::vector<Store::UrlCount> SqliteRouteTables::most_requested_urls(
    const std::string& route, const std::string& method,
    const std::string& query_params_normalized_json, int64_t start_us, int64_t end_us,
    size_t limit) const {
  static const std::string kSql =
      "SELECT route_full, COUNT(*) AS requests FROM route_analytics "
      "WHERE route = ? AND timestamp >= ? AND timestamp < ? AND method = ? "
      "AND COALESCE(query_params_normalized, '{}') = ? "
      "GROUP BY route_full ORDER BY requests DESC, route_full LIMIT ?";
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(kSql);
  select.bind_text(1, route);
  select.bind_text(2, format_rfc3339_micros(start_us));
  select.bind_text(3, format_rfc3339_micros(end_us));
  select.bind_text(4, method);
  select.bind_text(5, query_params_normalized_json);
  select.bind_int64(6, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<Store::UrlCount> urls;
  while (select.step()) {
    urls.push_back({std::string(select.column_text(0)), select.column_int64(1)});
  }
  select.reset();
  return urls;
}

void SqliteRouteTables::scan(int64_t start_us, int64_t end_us,
                             const std::function<void(const RouteEvent&)>& visit) const {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM route_analytics WHERE timestamp >= ? AND timestamp < ? ORDER BY timestamp",
      kEventColumns);
  SqliteConnections::Reader reader = connections_.reader();
  SqliteStatement& select = reader->prepare_cached(kSql);
  select.bind_text(1, format_rfc3339_micros(start_us));
  select.bind_text(2, format_rfc3339_micros(end_us));
  RouteEvent e;
  while (select.step()) {
    auto timestamp = parse_rfc3339(select.column_text(5));
    if (!timestamp) {
      throw StoreError("corrupt timestamp in route_analytics", StoreFailure::kCorrupt);
    }
    e.event_id = select.column_text(0);
    e.route = select.column_text(1);
    e.route_full = select.column_text(2);
    e.method = select.column_text(3);
    e.user_id = select.column_optional_text(4);
    e.timestamp_us = *timestamp;
    e.duration_ms = select.column_int64(6);
    e.status_code = static_cast<int>(select.column_int64(7));
    e.query_params_json = select.column_optional_text(8).value_or("{}");
    e.query_params_normalized_json = select.column_optional_text(9).value_or("{}");
    e.request_size_bytes = select.column_optional_int64(10);
    e.response_size_bytes = select.column_optional_int64(11);
    e.error_type = select.column_optional_text(12);
    e.db_query_count = select.column_optional_int64(13);
    e.cache_status = select.column_optional_text(14);
    visit(e);
  }
  select.reset();
}

}  // namespace genalytics
