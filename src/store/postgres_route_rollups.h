// Route events (seed 002) on PostgreSQL: the route_analytics row a write
// COPYs, the merge of a batch's RouteDelta into route_analytics_hourly, and
// the reads of both. Query params are JSONB there; reads give them back in
// the compact, key-sorted form events carry (PostgreSQL prints JSONB with
// spaces, shorter keys first). The rollup columns are
// store/route_rollup_columns.h's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event/route_event.h"
#include "rollup/route_rollup.h"
#include "store/postgres.h"
#include "store/postgres_connection_pool.h"
#include "store/postgres_copy_batch.h"
#include "store/store.h"

namespace genalytics {

// Route events as PostgresStore writes them (store/postgres_copy_batch.h).
struct PostgresRouteKind {
  using Event = RouteEvent;
  using Delta = RouteDelta;
  static constexpr std::string_view kTable = "route_analytics";
  static const PgBatchSql& batch_sql();
  static void append_copy_row(PgCopyBuffer& out, const RouteEvent& event);
  // Merges `delta` into route_analytics_hourly. Every writer locks the rows
  // it changes in one order, (hour, route, method, params as JSONB), each
  // lock taken by creating the row or by updating its updated_at, so
  // concurrent writers never deadlock. Keys whose params are equal as JSONB
  // but spelled differently share one row. Throws StoreError (kCorrupt when
  // a stored row does not decode, or the rows locked are not one per key of
  // `delta`). REQUIRES: inside the batch's transaction.
  static void merge(PgConnection& c, const RouteDelta& delta);
};

// Store::read_route_rollups. Throws StoreError (kCorrupt when a row does
// not decode).
std::vector<RouteRollupRow> read_route_rollups(PostgresConnectionPool& pool, int64_t start_us,
                                               int64_t end_us,
                                               const std::optional<std::string>& route);

// Store::scan_route_events. The rows are read before the first visit, and
// the connection returned. Throws StoreError (kCorrupt when a row does not
// decode).
void scan_route_events(PostgresConnectionPool& pool, int64_t start_us, int64_t end_us,
                       const std::function<void(const RouteEvent&)>& visit);

// Store::most_requested_urls, from the raw table's (route, timestamp) index.
std::vector<Store::UrlCount> most_requested_route_urls(
    PostgresConnectionPool& pool, const std::string& route, const std::string& method,
    const std::string& query_params_normalized_json, int64_t start_us, int64_t end_us,
    size_t limit);

}  // namespace genalytics
