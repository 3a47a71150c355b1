#include "store/postgres_route_rollups.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <map>

#include "event/json_fields.h"
#include "store/postgres_rows.h"
#include "store/rollup_columns.h"
#include "store/route_rollup_columns.h"

namespace genalytics {
namespace {

namespace columns = route_columns;
using rollup_columns::assignments;
using rollup_columns::column_list;

constexpr std::string_view kHourlyTable = "route_analytics_hourly";

// The columns a route event is copied into, in append_copy_row's order.
constexpr const char* kRouteEventColumns =
    "event_id, route, route_full, method, user_id, timestamp, duration_ms, status_code, "
    "query_params, query_params_normalized, request_size_bytes, response_size_bytes, "
    "error_type, db_query_count, cache_status";

// `text`, a JSON object as PostgreSQL prints JSONB, in the compact,
// key-sorted form that events carry. Throws StoreError(kCorrupt) for
// anything but an object.
std::string compact_sorted_object(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    throw StoreError("corrupt query params (not a JSON object) in a route table",
                     StoreFailure::kCorrupt);
  }
  return canonical_json(value);
}

// The staging table of merged hourly states, by row id: the derived seed
// columns, then the state.
constexpr std::string_view kStatesTable = "genalytics_route_states";

std::string create_staging_sql() {
  std::string states = "id bigint";
  const size_t derived_count = std::size(columns::kDerived);
  for (size_t i = 0; i < derived_count; ++i) {
    // As DerivedFigures: integers, then avg_db_query_count.
    states += fmt::format(", {} {}", columns::kDerived[i],
                          i + 1 < derived_count ? "bigint" : "float8");
  }
  for (int i = 0; i < columns::kStateColumnCount; ++i) {
    states += fmt::format(", {} {}", columns::kStateColumns[i],
                          i < columns::kCounterCount ? "bigint" : "bytea");
  }
  return fmt::format(
      "CREATE TEMP TABLE IF NOT EXISTS genalytics_incoming_routes ON COMMIT DELETE ROWS AS "
      "SELECT {} FROM route_analytics WITH NO DATA;"
      "CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS",
      kRouteEventColumns, kStatesTable, states);
}

// One row of the states table.
void append_state_row(PgCopyBuffer& out, int64_t id, const RouteBucket& bucket) {
  out.add_int64(id);
  PgCopyRow row(out);
  columns::write_derived(row, columns::derived_figures(bucket));
  columns::write_state(row, bucket);
  out.end_row();
}

}  // namespace

const PgBatchSql& PostgresRouteKind::batch_sql() {
  static const PgBatchSql kSql = pg_batch_sql(kTable, kRouteEventColumns, create_staging_sql(),
                                              "genalytics_incoming_routes");
  return kSql;
}

void PostgresRouteKind::append_copy_row(PgCopyBuffer& out, const RouteEvent& e) {
  out.add_text(e.event_id);
  out.add_text(e.route);
  out.add_text(e.route_full);
  out.add_text(e.method);
  out.add_optional_text(e.user_id);
  out.add_text(pg_timestamp(e.timestamp_us));
  out.add_int64(e.duration_ms);
  out.add_int64(e.status_code);
  out.add_text(e.query_params_json);
  out.add_text(e.query_params_normalized_json);
  out.add_optional_int64(e.request_size_bytes);
  out.add_optional_int64(e.response_size_bytes);
  out.add_optional_text(e.error_type);
  out.add_optional_int64(e.db_query_count);
  out.add_optional_text(e.cache_status);
  out.end_row();
}

void PostgresRouteKind::merge(PgConnection& c, const RouteDelta& delta) {
  static const std::string kLockSql = fmt::format(
      "WITH k AS (SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::jsonb[]) "
      "WITH ORDINALITY AS k(timestamp, route, method, params, n)), "
      "locked AS (INSERT INTO {} AS t (timestamp, route, method, "
      "query_params_normalized, duration_sketch, users_hll) "
      "SELECT DISTINCT k.timestamp, k.route, k.method, k.params, $5::bytea, $6::bytea FROM k "
      "ORDER BY k.timestamp, k.route, k.method, k.params "
      "ON CONFLICT (timestamp, route, method, query_params_normalized) "
      "DO UPDATE SET updated_at = NOW() "
      "RETURNING t.id, t.timestamp, t.route, t.method, t.query_params_normalized, {}) "
      "SELECT k.n, locked.id, {} FROM locked JOIN k ON k.timestamp = locked.timestamp AND "
      "k.route = locked.route AND k.method = locked.method AND "
      "k.params = locked.query_params_normalized",
      kHourlyTable, column_list(columns::kStateColumns, "t."),
      column_list(columns::kStateColumns, "locked."));
  static const std::string kCopyStatesSql =
      fmt::format("COPY {} (id, {}, {}) FROM STDIN", kStatesTable, column_list(columns::kDerived),
                  column_list(columns::kStateColumns));
  static const std::string kUpdateSql = fmt::format(
      "UPDATE {} AS t SET {}, {}, updated_at = NOW() FROM {} AS s WHERE t.id = s.id", kHourlyTable,
      assignments(columns::kDerived, "s."), assignments(columns::kStateColumns, "s."),
      kStatesTable);

  std::vector<std::string> hours, routes, methods, params;
  std::vector<const RouteBucket*> deltas;
  for (const auto& [key, bucket] : delta.buckets()) {
    hours.push_back(pg_timestamp(key.hour_us));
    routes.push_back(key.route);
    methods.push_back(key.method);
    params.push_back(key.query_params_normalized_json);
    deltas.push_back(&bucket);
  }
  const PgResult locked = c.exec(kLockSql,
                                 PgParams()
                                     .text(pg_array_literal(hours))
                                     .text(pg_array_literal(routes))
                                     .text(pg_array_literal(methods))
                                     .text(pg_array_literal(params))
                                     .bytea(DDSketch().serialize())
                                     .bytea(HyperLogLog().serialize()),
                                 PgFormat::kBinary);
  // As for generation rollups: a mismatch means the database is not as this
  // build's migrations left it, and retrying fails the same way: kCorrupt.
  if (static_cast<size_t>(locked.rows()) != deltas.size()) {
    throw StoreError(fmt::format("postgres: locked route rollup rows for {} of {} keys",
                                 locked.rows(), deltas.size()),
                     StoreFailure::kCorrupt);
  }
  std::map<int64_t, RouteBucket> merged;  // by row id
  std::vector<uint8_t> seen(deltas.size(), 0);
  for (int r = 0; r < locked.rows(); ++r) {
    const int64_t n = locked.int64(r, 0);  // 1-based key index
    if (n < 1 || static_cast<size_t>(n) > deltas.size() || seen[n - 1]++) {
      throw StoreError("postgres: locked an unexpected route rollup row", StoreFailure::kCorrupt);
    }
    auto [it, created] = merged.try_emplace(locked.int64(r, 1));
    if (created) it->second = columns::read_state(PgRow(locked, r), 2, kHourlyTable);
    it->second.merge(*deltas[n - 1]);
  }
  PgCopyBuffer states;
  for (const auto& [id, bucket] : merged) append_state_row(states, id, bucket);
  c.copy_from(kCopyStatesSql, states.data());
  c.exec(kUpdateSql);
}

std::vector<RouteRollupRow> read_route_rollups(PostgresConnectionPool& pool, int64_t start_us,
                                               int64_t end_us,
                                               const std::optional<std::string>& route) {
  static const std::string kSql = fmt::format(
      "SELECT {}, route, method, query_params_normalized::text, {} FROM {} "
      "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz",
      pg_epoch_us("timestamp"), column_list(columns::kStateColumns), kHourlyTable);
  static const std::string kRouteSql = kSql + " AND route = $3::text";
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return {};
  PgParams params;
  params.text(pg_timestamp(start_us)).text(pg_timestamp(end_us));
  if (route) params.text(*route);
  const PgResult result = pool.with_connection(
      [&](PgConnection& c) { return c.exec(route ? kRouteSql : kSql, params, PgFormat::kBinary); });
  std::vector<RouteRollupRow> rows;
  rows.reserve(result.rows());
  for (int r = 0; r < result.rows(); ++r) {
    rows.push_back(RouteRollupRow{
        RouteKey{result.int64(r, 0), std::string(result.text(r, 1)), std::string(result.text(r, 2)),
                 compact_sorted_object(result.text(r, 3))},
        columns::read_state(PgRow(result, r), 4, kHourlyTable)});
  }
  // In byte order of the keys as events carry them, as SqliteStore returns
  // them: not the order of the database's collation or of JSONB.
  std::sort(rows.begin(), rows.end(),
            [](const RouteRollupRow& a, const RouteRollupRow& b) { return a.key < b.key; });
  return rows;
}

void scan_route_events(PostgresConnectionPool& pool, int64_t start_us, int64_t end_us,
                       const std::function<void(const RouteEvent&)>& visit) {
  static const std::string kSql = fmt::format(
      "SELECT event_id, route, route_full, method, user_id, {}, duration_ms, status_code, "
      "query_params::text, query_params_normalized::text, request_size_bytes, "
      "response_size_bytes, error_type, db_query_count, cache_status FROM route_analytics "
      "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz ORDER BY timestamp",
      pg_epoch_us("timestamp"));
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return;
  const PgResult result = pool.with_connection([&](PgConnection& c) {
    return c.exec(kSql, PgParams().text(pg_timestamp(start_us)).text(pg_timestamp(end_us)));
  });
  auto params = [&result](int r, int column) {
    return result.is_null(r, column) ? std::string("{}")
                                     : compact_sorted_object(result.text(r, column));
  };
  RouteEvent e;
  for (int r = 0; r < result.rows(); ++r) {
    e.event_id = result.text(r, 0);
    e.route = result.text(r, 1);
    e.route_full = result.text(r, 2);
    e.method = result.text(r, 3);
    e.user_id = result.optional_text(r, 4);
    e.timestamp_us = result.int64(r, 5);
    e.duration_ms = result.int64(r, 6);
    e.status_code = static_cast<int>(result.int64(r, 7));
    e.query_params_json = params(r, 8);
    e.query_params_normalized_json = params(r, 9);
    e.request_size_bytes = result.optional_int64(r, 10);
    e.response_size_bytes = result.optional_int64(r, 11);
    e.error_type = result.optional_text(r, 12);
    e.db_query_count = result.optional_int64(r, 13);
    e.cache_status = result.optional_text(r, 14);
    visit(e);
  }
}

std::vector<Store::UrlCount> most_requested_route_urls(
    PostgresConnectionPool& pool, const std::string& route, const std::string& method,
    const std::string& query_params_normalized_json, int64_t start_us, int64_t end_us,
    size_t limit) {
  // COLLATE "C": ties in byte order, as the other store and the contract say.
  static const std::string kSql =
      "SELECT route_full, COUNT(*) AS requests FROM route_analytics "
      "WHERE route = $1 AND timestamp >= $2::timestamptz AND timestamp < $3::timestamptz "
      "AND method = $4 AND COALESCE(query_params_normalized, '{}'::jsonb) = $5::jsonb "
      "GROUP BY route_full ORDER BY requests DESC, route_full COLLATE \"C\" LIMIT $6";
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us || limit == 0) return {};
  const PgResult result = pool.with_connection([&](PgConnection& c) {
    return c.exec(kSql, PgParams()
                            .text(route)
                            .text(pg_timestamp(start_us))
                            .text(pg_timestamp(end_us))
                            .text(method)
                            .text(query_params_normalized_json)
                            .int64(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX))));
  });
  std::vector<Store::UrlCount> urls;
  urls.reserve(static_cast<size_t>(result.rows()));
  for (int r = 0; r < result.rows(); ++r) {
    urls.push_back({std::string(result.text(r, 0)), result.int64(r, 1)});
  }
  return urls;
}

}  // namespace genalytics
