// Route events in the embedded store (seed 002): route_analytics and its
// hourly rollup route_analytics_hourly, whose columns
// store/route_rollup_columns.h describes. SqliteStore implements the route
// part of Store with it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "event/route_event.h"
#include "store/sqlite_connections.h"
#include "store/store.h"

namespace genalytics {

class SqliteRouteTables {
 public:
  // Uses `connections`, which must outlive this.
  explicit SqliteRouteTables(SqliteConnections& connections) : connections_(connections) {}

  // Store::write, for route events.
  void write(std::span<const RouteEvent> events, std::vector<uint8_t>* inserted);
  // Store::read_route_rollups.
  std::vector<RouteRollupRow> read_rollups(int64_t start_us, int64_t end_us,
                                           const std::optional<std::string>& route) const;
  // Store::most_requested_urls.
  std::vector<Store::UrlCount> most_requested_urls(const std::string& route,
                                                   const std::string& method,
                                                   const std::string& query_params_normalized_json,
                                                   int64_t start_us, int64_t end_us,
                                                   size_t limit) const;
  // Store::scan_route_events.
  void scan(int64_t start_us, int64_t end_us,
            const std::function<void(const RouteEvent&)>& visit) const;

 private:
  void merge_rollup(const RouteKey& key, const RouteBucket& delta, const std::string& now_text);

  SqliteConnections& connections_;
};

}  // namespace genalytics
