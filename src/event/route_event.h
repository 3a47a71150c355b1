// A backend route hit (seed 002, "Data Model"): what was called, when, by
// whom, how long it took and how big it was.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace genalytics {

struct RouteEvent {
  std::string event_id;    // idempotency key, canonical UUID
  std::string route;       // path without the query string; concrete ids templated to {id} when enabled
  std::string route_full;  // the path as called, with its full query string
  std::string method;      // upper case: GET, POST, ...
  std::optional<std::string> user_id;  // canonical UUID
  int64_t timestamp_us = 0;            // microseconds since the Unix epoch, UTC
  int64_t duration_ms = 0;
  int status_code = 0;                 // 100..599
  // Compact JSON objects with keys sorted, values as strings: "{}" when none.
  std::string query_params_json;
  std::string query_params_normalized_json;  // without the variable params (page, offset, ...)
  std::optional<int64_t> request_size_bytes;
  std::optional<int64_t> response_size_bytes;
  std::optional<std::string> error_type;
  std::optional<int64_t> db_query_count;
  std::optional<std::string> cache_status;  // "hit", "miss", "bypass" or "stale"

  // 2 for 2xx, 4 for 4xx, ...
  int status_class() const { return status_code / 100; }
};

}  // namespace genalytics
