// Small builders of valid route events for tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "event/route_event.h"
#include "event/uuid.h"

namespace genalytics::testing {

// The busiest route of seed 002, whose rollups the route tests read.
inline constexpr const char* kUnified = "/api/v1/content/unified";

// A GET of `route` with no query params; the optional fields unset.
inline RouteEvent make_route_event(int64_t timestamp_us, const std::string& route,
                                   int status_code = 200, int64_t duration_ms = 100,
                                   const std::string& user_id = "") {
  RouteEvent e;
  e.event_id = random_uuid();
  e.route = route;
  e.route_full = route;
  e.method = "GET";
  if (!user_id.empty()) e.user_id = user_id;
  e.timestamp_us = timestamp_us;
  e.duration_ms = duration_ms;
  e.status_code = status_code;
  e.query_params_json = "{}";
  e.query_params_normalized_json = "{}";
  return e;
}

// Expects every field of `actual` to equal that of `expected`.
inline void expect_same_route_event(const RouteEvent& actual, const RouteEvent& expected) {
  EXPECT_EQ(actual.event_id, expected.event_id);
  EXPECT_EQ(actual.route, expected.route);
  EXPECT_EQ(actual.route_full, expected.route_full);
  EXPECT_EQ(actual.method, expected.method);
  EXPECT_EQ(actual.user_id, expected.user_id);
  EXPECT_EQ(actual.timestamp_us, expected.timestamp_us);
  EXPECT_EQ(actual.duration_ms, expected.duration_ms);
  EXPECT_EQ(actual.status_code, expected.status_code);
  EXPECT_EQ(actual.query_params_json, expected.query_params_json);
  EXPECT_EQ(actual.query_params_normalized_json, expected.query_params_normalized_json);
  EXPECT_EQ(actual.request_size_bytes, expected.request_size_bytes);
  EXPECT_EQ(actual.response_size_bytes, expected.response_size_bytes);
  EXPECT_EQ(actual.error_type, expected.error_type);
  EXPECT_EQ(actual.db_query_count, expected.db_query_count);
  EXPECT_EQ(actual.cache_status, expected.cache_status);
}

}  // namespace genalytics::testing
