#include "event/route_stream_fields.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "event/decoder_tests.h"
#include "event/route_decoder.h"
#include "event/time.h"
#include "testing/events.h"

namespace genalytics {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;

using testing::Decoded;
using testing::kEventId;
using testing::kNow;
using testing::Pairs;
using testing::views;

// A route hit in flat form, as a producer would XADD it, with `extra` appended.
Pairs hit_fields(const Pairs& extra = {}) {
  Pairs fields = {{"event_id", std::string(kEventId)},
                  {"route", "/api/v1/content/unified?page=2&sort=created_at"},
                  {"method", "get"},
                  {"timestamp", "2025-01-15T10:30:45.123Z"},
                  {"duration_ms", "142"},
                  {"status_code", "200"}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  return fields;
}

Decoded<RouteEvent> decode_route_fields(const Pairs& fields) {
  Decoded<RouteEvent> decoded;
  const json::object object = route_fields_to_json(views(fields), &decoded.errors);
  if (decoded.errors.empty()) {
    decoded.ok = decode_route_event(object, kNow, {}, {}, &decoded.event, &decoded.errors);
  }
  return decoded;
}

std::vector<FieldError> route_errors_of(const Pairs& fields) {
  Decoded<RouteEvent> decoded = decode_route_fields(fields);
  EXPECT_FALSE(decoded.ok);
  return decoded.errors;
}

auto as_tuple(const RouteEvent& e) {
  return std::tie(e.event_id, e.route, e.route_full, e.method, e.user_id, e.timestamp_us,
                  e.duration_ms, e.status_code, e.query_params_json, e.query_params_normalized_json,
                  e.request_size_bytes, e.response_size_bytes, e.error_type, e.db_query_count,
                  e.cache_status);
}

TEST(RouteStreamFieldsTest, TimestampsOutOfRangeAndUnknownCacheStatusesAreRejected) {
  Pairs fields = hit_fields({{"cache_status", "banana"}});
  fields[3].second = "9999-12-31T00:00:00Z";
  EXPECT_THAT(
      route_errors_of(fields),
      ElementsAre(FieldError{"/timestamp",
                             "must not be more than 3600 seconds ahead of the server's clock"},
                  FieldError{"/cache_status", "must be one of hit, miss, bypass, stale"}));
  fields[3].second = "1999-12-31T23:59:59Z";
  fields[6].second = "miss";
  EXPECT_THAT(route_errors_of(fields),
              ElementsAre(FieldError{"/timestamp", "must not be before 2000-01-01T00:00:00Z"}));
}

TEST(RouteStreamFieldsTest, EntryWithoutEventIdGetsAnIdDerivedFromItsContent) {
  Pairs fields = hit_fields();
  fields.erase(fields.begin());  // event_id
  const Decoded<RouteEvent> first = decode_route_fields(fields);
  ASSERT_TRUE(first.ok);
  EXPECT_EQ(decode_route_fields(fields).event.event_id, first.event.event_id);
  fields.back().second = "404";  // status_code
  EXPECT_NE(decode_route_fields(fields).event.event_id, first.event.event_id);
}

// Regression (found by fuzz/stream_fields_fuzz): a route whose query held a
// byte that is not UTF-8 was accepted and stored as JSON that does not parse.
TEST(RouteStreamFieldsTest, TextThatIsNotUtf8IsRejected) {
  EXPECT_THAT(route_errors_of(hit_fields({{"route", "/api/v1/content?q=\xff"}})),
              ElementsAre(FieldError{"/route", "must be UTF-8 text"}));
  EXPECT_THAT(route_errors_of(hit_fields({{"error_type", "\xed\xa0\x80"}})),  // a surrogate
              ElementsAre(FieldError{"/error_type", "must be UTF-8 text"}));
}

TEST(RouteStreamFieldsTest, ProducerFieldsDecode) {
  const Decoded<RouteEvent> decoded =
      decode_route_fields(hit_fields({{"query_params", R"({"page_size":10})"},
                                      {"request_size_bytes", "0"},
                                      {"db_query_count", "3"},
                                      {"cache_status", "miss"},
                                      {"unknown", "kept as text"}}));
  ASSERT_TRUE(decoded.ok) << decoded.errors.size();
  const RouteEvent& event = decoded.event;
  EXPECT_EQ(event.route, "/api/v1/content/unified");
  EXPECT_EQ(event.route_full, "/api/v1/content/unified?page=2&page_size=10&sort=created_at");
  EXPECT_EQ(event.method, "GET");
  EXPECT_EQ(event.timestamp_us, *parse_rfc3339("2025-01-15T10:30:45.123Z"));
  EXPECT_EQ(event.duration_ms, 142);
  EXPECT_EQ(event.status_code, 200);
  EXPECT_EQ(event.query_params_json, R"({"page":"2","page_size":"10","sort":"created_at"})");
  EXPECT_EQ(event.query_params_normalized_json, R"({"page_size":"10","sort":"created_at"})");
  EXPECT_EQ(event.request_size_bytes, 0);
  EXPECT_EQ(event.db_query_count, 3);
  EXPECT_EQ(event.cache_status, "miss");
}

TEST(RouteStreamFieldsTest, ValuesWithoutTheirTypeGetTheDecodersErrors) {
  EXPECT_THAT(route_errors_of(hit_fields({{"status_code", "OK"},
                                          {"duration_ms", "1.5"},
                                          {"db_query_count", " 3"},
                                          {"response_size_bytes", "-1"}})),
              ElementsAre(FieldError{"/duration_ms", "must be a non-negative integer"},
                          FieldError{"/status_code", "must be an HTTP status code (100-599)"},
                          FieldError{"/response_size_bytes", "must be a non-negative integer"},
                          FieldError{"/db_query_count", "must be a non-negative integer"}));
  EXPECT_THAT(route_errors_of(hit_fields({{"duration_ms", "99999999999999999999"}})),
              ElementsAre(FieldError{"/duration_ms", "must be at most 2147483647"}));
  EXPECT_THAT(route_errors_of(hit_fields({{"query_params", "page=1"}})),
              ElementsAre(FieldError{"/query_params", "must be JSON text of an object"}));
}

TEST(RouteStreamFieldsTest, NormalizedParamsTextIsNotChecked) {
  const Decoded<RouteEvent> decoded =
      decode_route_fields(hit_fields({{"query_params_normalized", "not json"}}));
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(decoded.event.query_params_normalized_json, R"({"sort":"created_at"})");
}

TEST(RouteStreamFieldsTest, TheJsonFieldHoldsTheWholeEvent) {
  const Decoded<RouteEvent> decoded = decode_route_fields(
      {{"route", "/ignored"},
       {"json", R"({"route":"/a/7","method":"POST","duration_ms":5,"status_code":201})"}});
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(decoded.event.route, "/a/{id}");
  EXPECT_EQ(decoded.event.status_code, 201);
  EXPECT_THAT(route_errors_of({{"json", "[]"}}),
              ElementsAre(FieldError{"/json", "must be JSON text of an object"}));
}

TEST(RouteStreamFieldsTest, WritesEveryFieldInMemberOrder) {
  const Decoded<RouteEvent> decoded =
      decode_route_fields(hit_fields({{"user_id", "550E8400-E29B-41D4-A716-446655440000"},
                                      {"query_params", R"({"q":"x y"})"},
                                      {"request_size_bytes", "1"},
                                      {"response_size_bytes", "2"},
                                      {"error_type", "timeout"},
                                      {"db_query_count", "3"},
                                      {"cache_status", "hit"}}));
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(to_stream_fields(decoded.event),
            (Pairs{{"event_id", std::string(kEventId)},
                   {"route", "/api/v1/content/unified"},
                   {"route_full", "/api/v1/content/unified?page=2&q=x+y&sort=created_at"},
                   {"method", "GET"},
                   {"user_id", "550e8400-e29b-41d4-a716-446655440000"},
                   {"timestamp", "2025-01-15T10:30:45.123000Z"},
                   {"duration_ms", "142"},
                   {"status_code", "200"},
                   {"query_params", R"({"page":"2","q":"x y","sort":"created_at"})"},
                   {"query_params_normalized", R"({"q":"x y","sort":"created_at"})"},
                   {"request_size_bytes", "1"},
                   {"response_size_bytes", "2"},
                   {"error_type", "timeout"},
                   {"db_query_count", "3"},
                   {"cache_status", "hit"}}));
}

TEST(RouteStreamFieldsTest, RoundTripsThroughDecode) {
  for (const Pairs& extra :
       {Pairs{}, Pairs{{"route", "/users/42/posts"}, {"route_full", "https://x.test/users/42"}},
        Pairs{{"query_params", R"({"limit":20,"beta":true,"q":"é&="})"}, {"error_type", "e"}}}) {
    const Decoded<RouteEvent> once = decode_route_fields(hit_fields(extra));
    ASSERT_TRUE(once.ok);
    const Decoded<RouteEvent> twice = decode_route_fields(to_stream_fields(once.event));
    ASSERT_TRUE(twice.ok);
    EXPECT_EQ(as_tuple(twice.event), as_tuple(once.event));
    // And through the json field.
    const Decoded<RouteEvent> whole =
        decode_route_fields({{"json", json::serialize(to_json(once.event))}});
    ASSERT_TRUE(whole.ok);
    EXPECT_EQ(as_tuple(whole.event), as_tuple(once.event));
  }
}

TEST(RouteStreamFieldsTest, AbsentOptionalsAreOmitted) {
  const Decoded<RouteEvent> decoded = decode_route_fields(hit_fields());
  ASSERT_TRUE(decoded.ok);
  const Pairs fields = to_stream_fields(decoded.event);
  EXPECT_EQ(fields.size(), 9u);
  for (const auto& [name, value] : fields) {
    EXPECT_NE(name, "user_id");
    EXPECT_NE(name, "cache_status");
  }
  EXPECT_THAT(route_errors_of({}),
              ElementsAre(FieldError{"/route", "is required"}, FieldError{"/method", "is required"},
                          FieldError{"/duration_ms", "is required"},
                          FieldError{"/status_code", "is required"}));
}

}  // namespace
}  // namespace genalytics
