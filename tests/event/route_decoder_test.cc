// Over 400 lines: one test per field rule of the route decoder.
#include "event/route_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>
#include <string>
#include <vector>

#include "event/decoder_tests.h"
#include "event/time.h"
#include "event/uuid.h"
#include "testing/events.h"

namespace genalytics {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;

using testing::BadEventCase;
using testing::json_string;
using testing::kNow;
using testing::kUserId;

// A valid event with `members` appended ("" for none).
std::string hit_with(std::string_view members) {
  std::string text = R"({"route":"/api/v1/content/unified","method":"GET","duration_ms":142,)"
                     R"("status_code":200)";
  if (!members.empty()) text.append(",").append(members);
  return text + "}";
}

// The required fields, with `route` as given (JSON text).
std::string hit_at(std::string_view route, std::string_view members = "") {
  std::string text =
      R"({"route":)" + std::string(route) + R"(,"method":"GET","duration_ms":1,"status_code":200)";
  if (!members.empty()) text.append(",").append(members);
  return text + "}";
}

bool decode(std::string_view text, RouteEvent* event, std::vector<FieldError>* errors,
            const DecodeLimits& limits = {}, const RouteNormalization& normalization = {}) {
  return decode_route_event(json::parse(text), kNow, limits, normalization, event, errors);
}

RouteEvent decode_valid_route(std::string_view text, const RouteNormalization& normalization = {}) {
  RouteEvent event;
  std::vector<FieldError> errors;
  EXPECT_TRUE(decode(text, &event, &errors, {}, normalization)) << text;
  EXPECT_THAT(errors, IsEmpty()) << text;
  return event;
}

std::vector<FieldError> decode_route_errors(std::string_view text,
                                            const DecodeLimits& limits = {}) {
  RouteEvent event;
  std::vector<FieldError> errors;
  EXPECT_FALSE(decode(text, &event, &errors, limits)) << text;
  return errors;
}

// ---------------------------------------------------------------------------
// Rejections: every rule, with the exact field and message.

std::vector<BadEventCase> bad_route_cases() {
  const std::string too_long(257, 'x');
  const std::string long_route = "/" + std::string(2048, 'r');
  std::vector<BadEventCase> cases = {
      // The event as a whole.
      {"[]", {{"", "must be a JSON object"}}},
      {"null", {{"", "must be a JSON object"}}},
      {R"("/api")", {{"", "must be a JSON object"}}},
      // Required fields.
      {"{}",
       {{"/route", "is required"},
        {"/method", "is required"},
        {"/duration_ms", "is required"},
        {"/status_code", "is required"}}},
      {R"({"route":null,"method":null,"duration_ms":null,"status_code":null})",
       {{"/route", "is required"},
        {"/method", "is required"},
        {"/duration_ms", "is required"},
        {"/status_code", "is required"}}},
      // route.
      {hit_at("5"), {{"/route", "must be a string"}}},
      {hit_at("[\"/a\"]"), {{"/route", "must be a string"}}},
      {hit_at(R"("")"), {{"/route", "must start with '/'"}}},
      {hit_at(R"("api/v1")"), {{"/route", "must start with '/'"}}},
      {hit_at(R"("https://example.com/api")"), {{"/route", "must start with '/'"}}},
      {hit_at(R"("?page=1")"), {{"/route", "must start with '/'"}}},
      {hit_at(json_string(long_route)), {{"/route", "must be at most 2048 characters"}}},
      {hit_at(R"("/a\u0000b")"), {{"/route", "must not contain NUL characters"}}},
      {hit_at(R"("/a?q=%00")"), {{"/route", "must not contain NUL characters"}}},
      // route_full.
      {hit_with(R"("route_full":7)"), {{"/route_full", "must be a string"}}},
      {hit_with(R"("route_full":"/a\u0000")"),
       {{"/route_full", "must not contain NUL characters"}}},
      // method.
      {hit_with(R"("method":"FETCH")"), {{"/method", "must be an HTTP method"}}},
      {hit_with(R"("method":"")"), {{"/method", "must be an HTTP method"}}},
      {hit_with(R"("method":" GET")"), {{"/method", "must be an HTTP method"}}},
      {hit_with(R"("method":"CONNECT")"), {{"/method", "must be an HTTP method"}}},
      {hit_with(R"("method":1)"), {{"/method", "must be an HTTP method"}}},
      // UUIDs.
      {hit_with(R"("user_id":"alice")"), {{"/user_id", "must be a UUID"}}},
      {hit_with(R"("user_id":7)"), {{"/user_id", "must be a UUID"}}},
      {hit_with(R"("event_id":"e-1")"), {{"/event_id", "must be a UUID"}}},
      // Timestamps.
      {hit_with(R"("timestamp":"2025-01-15")"), {{"/timestamp", "must be an RFC 3339 date-time"}}},
      {hit_with(R"("timestamp":"2025-02-30T10:00:00Z")"),
       {{"/timestamp", "must be an RFC 3339 date-time"}}},
      {hit_with(R"("timestamp":1736937045)"), {{"/timestamp", "must be an RFC 3339 date-time"}}},
      // status_code.
      {hit_with(R"("status_code":99)"),
       {{"/status_code", "must be an HTTP status code (100-599)"}}},
      {hit_with(R"("status_code":600)"),
       {{"/status_code", "must be an HTTP status code (100-599)"}}},
      {hit_with(R"("status_code":-200)"),
       {{"/status_code", "must be an HTTP status code (100-599)"}}},
      {hit_with(R"("status_code":200.5)"),
       {{"/status_code", "must be an HTTP status code (100-599)"}}},
      {hit_with(R"("status_code":"200")"),
       {{"/status_code", "must be an HTTP status code (100-599)"}}},
      {hit_with(R"("status_code":1e400)"),
       {{"/status_code", "must be an HTTP status code (100-599)"}}},
      {hit_with(R"("status_code":18446744073709551615)"),
       {{"/status_code", "must be an HTTP status code (100-599)"}}},
      // query_params.
      {hit_with(R"("query_params":"page=1")"), {{"/query_params", "must be an object"}}},
      {hit_with(R"("query_params":["a"])"), {{"/query_params", "must be an object"}}},
      {hit_with(R"("query_params":{"a":null,"b":[1],"c":{},"d":"ok","e":1,"f":true})"),
       {{"/query_params/a", "must be a string, number or boolean"},
        {"/query_params/b", "must be a string, number or boolean"},
        {"/query_params/c", "must be a string, number or boolean"}}},
      {hit_with(R"("query_params":{"x/y~z":1e400})"),
       {{"/query_params/x~1y~0z", "is out of range"}}},
      {hit_with(R"("query_params":{"q":"a\u0000"})"),
       {{"/query_params/q", "must not contain NUL characters"}}},
      {hit_with(R"("query_params":{"q\u0000":"a","r":null})"),
       {{"/query_params", "keys must not contain NUL characters"}}},
      {hit_with(R"("query_params":{"q":")" + std::string(16 * 1024, 'q') + R"("})"),
       {{"/query_params", "must be at most 16384 bytes"}}},
      // Every problem of an event, in the order of RouteEvent's fields.
      {R"({"event_id":"x","route":"api","route_full":1,"method":"get it","user_id":"bad",)"
       R"("timestamp":"yesterday","duration_ms":-5,"status_code":700,"query_params":[],)"
       R"("request_size_bytes":-1,"response_size_bytes":"5","error_type":5,)"
       R"("db_query_count":1.5,"cache_status":false})",
       {{"/event_id", "must be a UUID"},
        {"/route", "must start with '/'"},
        {"/route_full", "must be a string"},
        {"/method", "must be an HTTP method"},
        {"/user_id", "must be a UUID"},
        {"/timestamp", "must be an RFC 3339 date-time"},
        {"/duration_ms", "must be a non-negative integer"},
        {"/status_code", "must be an HTTP status code (100-599)"},
        {"/query_params", "must be an object"},
        {"/request_size_bytes", "must be a non-negative integer"},
        {"/response_size_bytes", "must be a non-negative integer"},
        {"/error_type", "must be a string"},
        {"/db_query_count", "must be a non-negative integer"},
        {"/cache_status", "must be one of hit, miss, bypass, stale"}}},
  };

  for (const char* field :
       {"duration_ms", "request_size_bytes", "response_size_bytes", "db_query_count"}) {
    const std::string pointer = std::string("/") + field;
    for (const char* value : {"-1", "-0.5", "1.5", "\"5\"", "true", "[]", "{}", "-1e400"}) {
      cases.push_back({hit_with(json_string(field) + ":" + value),
                       {{pointer, "must be a non-negative integer"}}});
    }
    for (const char* value : {"2147483648", "1e20", "18446744073709551615", "1e400"}) {
      cases.push_back(
          {hit_with(json_string(field) + ":" + value), {{pointer, "must be at most 2147483647"}}});
    }
  }
  for (const char* value : {"5", "true", "{}", "[\"a\"]", "\"banana\""}) {
    cases.push_back({hit_with(std::string(R"("cache_status":)") + value),
                     {{"/cache_status", "must be one of hit, miss, bypass, stale"}}});
  }
  for (const char* field : {"error_type"}) {
    const std::string pointer = std::string("/") + field;
    for (const char* value : {"5", "true", "{}", "[\"a\"]"}) {
      cases.push_back(
          {hit_with(json_string(field) + ":" + value), {{pointer, "must be a string"}}});
    }
    cases.push_back({hit_with(json_string(field) + ":" + json_string(too_long)),
                     {{pointer, "must be at most 256 characters"}}});
    cases.push_back({hit_with(json_string(field) + R"(:"a\u0000")"),
                     {{pointer, "must not contain NUL characters"}}});
  }
  return cases;
}

TEST(DecodeRouteEventTest, RejectsBadEventsWithExactErrors) {
  for (const BadEventCase& bad : bad_route_cases()) {
    EXPECT_EQ(decode_route_errors(bad.json), bad.errors) << bad.json;
  }
}

TEST(DecodeRouteEventTest, AppendsToExistingErrors) {
  RouteEvent event;
  std::vector<FieldError> errors = {{"/earlier", "kept"}};
  EXPECT_FALSE(decode(hit_with(R"("user_id":"x")"), &event, &errors));
  EXPECT_THAT(errors, ElementsAre(FieldError{"/earlier", "kept"},
                                  FieldError{"/user_id", "must be a UUID"}));
}

TEST(DecodeRouteEventTest, LimitsComeFromDecodeLimits) {
  DecodeLimits limits;
  limits.max_string_length = 3;
  limits.max_object_bytes = 10;
  EXPECT_EQ(
      decode_route_errors(hit_with(R"("query_params":{"abc":12345},"error_type":"oops")"), limits),
      (std::vector<FieldError>{{"/query_params", "must be at most 10 bytes"},
                               {"/error_type", "must be at most 3 characters"}}));
  // The limit applies to the parameters of the route's query string too.
  EXPECT_EQ(decode_route_errors(hit_at(R"("/a?abc=12345")"), limits),
            (std::vector<FieldError>{{"/query_params", "must be at most 10 bytes"}}));
}

TEST(DecodeRouteEventTest, MeasuresRoutesInCharacters) {
  std::string accents = "/";
  for (int i = 0; i < 2047; ++i) accents += "é";  // 2048 characters, 4095 bytes
  EXPECT_EQ(decode_valid_route(hit_at(json_string(accents))).route, accents);
  EXPECT_EQ(decode_route_errors(hit_at(json_string(accents + "é"))),
            (std::vector<FieldError>{{"/route", "must be at most 2048 characters"}}));
}

// Regression (found by fuzz/route_body_fuzz): the limit was checked before
// ids were templated, so "/1" x 1000 (2,000 characters) was stored as a
// 5,000-character "/{id}/..." that the decoder itself refuses.
TEST(DecodeRouteEventTest, RouteThatTemplatingLengthensPastTheLimitIsRejected) {
  std::string ids;
  for (int i = 0; i < 1000; ++i) ids += "/1";
  EXPECT_EQ(decode_route_errors(hit_at(json_string(ids))),
            (std::vector<FieldError>{
                {"/route", "must be at most 2048 characters once its ids are templated"}}));
  // Without templating it is stored as sent.
  RouteNormalization as_sent;
  as_sent.template_ids = false;
  EXPECT_EQ(decode_valid_route(hit_at(json_string(ids)), as_sent).route, ids);
  // 409 ids of one digit: 2,045 characters once templated, accepted.
  std::string fits;
  for (int i = 0; i < 409; ++i) fits += "/1";
  EXPECT_EQ(decode_valid_route(hit_at(json_string(fits))).route.size(), 409u * 5);
}

// ---------------------------------------------------------------------------
// Accepted events.

TEST(DecodeRouteEventTest, DecodesTheSeedExample) {
  const RouteEvent event = decode_valid_route(R"({
    "event_id": "0A6F7E48-3D1B-4C4B-9F9A-2C1D5E6F7A8B",
    "route": "/api/v1/content/unified",
    "method": "GET",
    "user_id": "550e8400-e29b-41d4-a716-446655440000",
    "timestamp": "2025-01-15T10:30:45.123Z",
    "duration_ms": 142,
    "status_code": 200,
    "query_params": {"page": "1", "page_size": "10", "sort": "created_at"},
    "query_params_normalized": {"ignored": "derived from query_params"},
    "request_size_bytes": 1234,
    "response_size_bytes": 5678,
    "error_type": null,
    "db_query_count": 3,
    "cache_status": "miss",
    "unknown_field": {"ignored": true}
  })");
  EXPECT_EQ(event.event_id, "0a6f7e48-3d1b-4c4b-9f9a-2c1d5e6f7a8b");
  EXPECT_EQ(event.route, "/api/v1/content/unified");
  EXPECT_EQ(event.route_full, "/api/v1/content/unified?page=1&page_size=10&sort=created_at");
  EXPECT_EQ(event.method, "GET");
  EXPECT_EQ(event.user_id, kUserId);
  EXPECT_EQ(event.timestamp_us, *parse_rfc3339("2025-01-15T10:30:45.123Z"));
  EXPECT_EQ(event.duration_ms, 142);
  EXPECT_EQ(event.status_code, 200);
  EXPECT_EQ(event.status_class(), 2);
  EXPECT_EQ(event.query_params_json, R"({"page":"1","page_size":"10","sort":"created_at"})");
  EXPECT_EQ(event.query_params_normalized_json, R"({"page_size":"10","sort":"created_at"})");
  EXPECT_EQ(event.request_size_bytes, 1234);
  EXPECT_EQ(event.response_size_bytes, 5678);
  EXPECT_EQ(event.error_type, std::nullopt);
  EXPECT_EQ(event.db_query_count, 3);
  EXPECT_EQ(event.cache_status, "miss");
}

TEST(DecodeRouteEventTest, DefaultsEventIdAndTimestampAndOptionals) {
  const RouteEvent first = decode_valid_route(hit_with(""));
  const RouteEvent second = decode_valid_route(hit_with(R"("event_id":null,"timestamp":null)"));
  EXPECT_EQ(canonical_uuid(first.event_id), first.event_id);
  EXPECT_EQ(first.event_id[14], '5');  // derived from the content
  EXPECT_EQ(first.event_id, second.event_id);
  EXPECT_EQ(first.timestamp_us, kNow);
  EXPECT_EQ(second.timestamp_us, kNow);
  EXPECT_EQ(first.route_full, "/api/v1/content/unified");
  EXPECT_EQ(first.query_params_json, "{}");
  EXPECT_EQ(first.query_params_normalized_json, "{}");
  EXPECT_EQ(first.user_id, std::nullopt);
  EXPECT_EQ(first.request_size_bytes, std::nullopt);
  EXPECT_EQ(first.response_size_bytes, std::nullopt);
  EXPECT_EQ(first.db_query_count, std::nullopt);
  EXPECT_EQ(first.cache_status, std::nullopt);
}

// A retried route hit without event_id counted twice: the id was random.
TEST(DecodeRouteEventTest, RetryWithoutEventIdGetsTheSameDerivedId) {
  const std::string sent = hit_with(
      R"("route":"/api/v1/content/12345?page=2","timestamp":"2025-01-15T10:30:45.123Z",)"
      R"("query_params":{"sort":"name","tag":"x"},"cache_status":"hit")");
  const RouteEvent first = decode_valid_route(sent);
  EXPECT_EQ(decode_valid_route(sent).event_id, first.event_id);
  EXPECT_EQ(
      decode_valid_route(
          R"({"cache_status":"HIT","query_params":{"tag":"x","sort":"name"},"status_code":200,)"
          R"("timestamp":"2025-01-15T10:30:45.123+00:00","duration_ms":142,"method":"get",)"
          R"("route":"/api/v1/content/12345?page=2"})")
          .event_id,
      first.event_id);
  // Later, without a timestamp: the defaulted one is not part of the id.
  RouteEvent later;
  std::vector<FieldError> errors;
  ASSERT_TRUE(decode_route_event(json::parse(hit_with("")), kNow + kMicrosPerSecond, {}, {},
                                 &later, &errors));
  EXPECT_EQ(later.event_id, decode_valid_route(hit_with("")).event_id);

  std::set<std::string> ids;
  const std::string variants[] = {
      hit_with(""),
      hit_with(R"("route":"/api/v1/content/1")"),
      hit_with(R"("route":"/api/v1/content/2")"),  // same template, another URL
      hit_with(R"("route":"/api/v1/content/unified?page=2")"),
      hit_with(R"("duration_ms":143)"),
      hit_with(R"("method":"HEAD")"),
      hit_with(R"("cache_status":"miss")"),
      hit_with(R"("user_id":"550e8400-e29b-41d4-a716-446655440000")"),
      hit_with(R"("timestamp":"2025-01-15T10:30:45.123Z")"),
  };
  for (const std::string& variant : variants) ids.insert(decode_valid_route(variant).event_id);
  EXPECT_EQ(ids.size(), std::size(variants));
}

// "banana" was stored as a cache status.
TEST(DecodeRouteEventTest, CacheStatusIsHitMissBypassOrStale) {
  const FieldError error{"/cache_status", "must be one of hit, miss, bypass, stale"};
  EXPECT_THAT(decode_route_errors(hit_with(R"("cache_status":"banana")")), ElementsAre(error));
  EXPECT_THAT(decode_route_errors(hit_with(R"("cache_status":"")")), ElementsAre(error));
  EXPECT_THAT(decode_route_errors(hit_with(R"("cache_status":1)")), ElementsAre(error));
  EXPECT_THAT(decode_route_errors(hit_with(R"("cache_status":"hits")")), ElementsAre(error));
  for (std::string_view status : {"hit", "miss", "bypass", "stale"}) {
    EXPECT_EQ(decode_valid_route(hit_with(R"("cache_status":")" + std::string(status) + "\""))
                  .cache_status,
              status);
  }
  EXPECT_EQ(decode_valid_route(hit_with(R"("cache_status":"STALE")")).cache_status, "stale");
  EXPECT_EQ(decode_valid_route(hit_with(R"("cache_status":null)")).cache_status, std::nullopt);
}

TEST(DecodeRouteEventTest, TimestampsOutOfRangeAreRejected) {
  const FieldError future{"/timestamp",
                          "must not be more than 3600 seconds ahead of the server's clock"};
  const FieldError ancient{"/timestamp", "must not be before 2000-01-01T00:00:00Z"};
  EXPECT_THAT(decode_route_errors(hit_with(R"("timestamp":"9999-12-31T00:00:00Z")")),
              ElementsAre(future));
  EXPECT_THAT(decode_route_errors(hit_with(R"("timestamp":"0001-01-01T00:00:00Z")")),
              ElementsAre(ancient));
  EXPECT_THAT(decode_route_errors(hit_with(R"("timestamp":"2025-01-15T13:00:01Z")")),
              ElementsAre(future));
  EXPECT_EQ(decode_valid_route(hit_with(R"("timestamp":"2025-01-15T13:00:00Z")")).timestamp_us,
            kNow + kMicrosPerHour);
  EXPECT_EQ(decode_valid_route(hit_with(R"("timestamp":"2003-07-01T08:00:00Z")")).timestamp_us,
            parse_rfc3339("2003-07-01T08:00:00Z"));
}

TEST(DecodeRouteEventTest, TimestampWithoutOffsetIsUtc) {
  EXPECT_EQ(
      decode_valid_route(hit_with(R"("timestamp":"2025-01-15T10:30:45.123456")")).timestamp_us,
      *parse_rfc3339("2025-01-15T10:30:45.123456Z"));
  EXPECT_EQ(decode_valid_route(hit_with(R"("timestamp":"2025-01-15T11:30:45+01:00")")).timestamp_us,
            *parse_rfc3339("2025-01-15T10:30:45Z"));
}

TEST(DecodeRouteEventTest, MethodsInAnyCaseAreStoredUpperCase) {
  const std::pair<std::string, std::string> cases[] = {
      {"GET", "GET"},       {"get", "GET"},         {"Head", "HEAD"},
      {"post", "POST"},     {"pUt", "PUT"},         {"patch", "PATCH"},
      {"delete", "DELETE"}, {"OPTIONS", "OPTIONS"}, {"options", "OPTIONS"},
  };
  for (const auto& [sent, stored] : cases) {
    EXPECT_EQ(decode_valid_route(hit_with(R"("method":)" + json_string(sent))).method, stored)
        << sent;
  }
}

TEST(DecodeRouteEventTest, AcceptsStatusCodesAndIntegersInAnySpelling) {
  for (const auto& [sent, stored] :
       {std::pair{"100", 100}, std::pair{"599", 599}, std::pair{"404.0", 404},
        std::pair{"5e2", 500}, std::pair{"301", 301}}) {
    EXPECT_EQ(decode_valid_route(hit_with(R"("status_code":)" + std::string(sent))).status_code,
              stored)
        << sent;
  }
  const RouteEvent event = decode_valid_route(
      hit_with(R"("duration_ms":5.0,"request_size_bytes":0,"response_size_bytes":-0.0,)"
               R"("db_query_count":2147483647)"));
  EXPECT_EQ(event.duration_ms, 5);
  EXPECT_EQ(event.request_size_bytes, 0);
  EXPECT_EQ(event.response_size_bytes, 0);
  EXPECT_EQ(event.db_query_count, kMaxEventInteger);
}

TEST(DecodeRouteEventTest, StoresQueryParamValuesAsStrings) {
  const RouteEvent event = decode_valid_route(
      hit_with(R"("query_params":{"s":"x","i":10,"neg":-3,"d":7.5,"whole":2.0,"big":1e300,)"
               R"("u":18446744073709551615,"t":true,"f":false,"empty":""})"));
  EXPECT_EQ(event.query_params_json,
            R"({"big":"1e+300","d":"7.5","empty":"","f":"false","i":"10","neg":"-3","s":"x",)"
            R"("t":"true","u":"18446744073709551615","whole":"2"})");
}

// The normalisation table of route_normalizer_test, end to end through the
// decoder: route as sent plus query_params -> what is stored.
TEST(DecodeRouteEventTest, NormalisesRoutes) {
  struct Case {
    std::string members;
    std::string route;
    std::string route_full;
    std::string params;
    std::string normalized;
  };
  const Case cases[] = {
      {R"("route":"/api/v1/content/unified?page=2&page_size=10&sort=created_at")",
       "/api/v1/content/unified", "/api/v1/content/unified?page=2&page_size=10&sort=created_at",
       R"({"page":"2","page_size":"10","sort":"created_at"})",
       R"({"page_size":"10","sort":"created_at"})"},
      // query_params win over the route's query string; the rest merges in.
      {R"("route":"/api/x?page=2&sort=a","query_params":{"sort":"b","limit":50})", "/api/x",
       "/api/x?limit=50&page=2&sort=b", R"({"limit":"50","page":"2","sort":"b"})",
       R"({"sort":"b"})"},
      // Concrete ids templated in route, kept in route_full.
      {R"("route":"/api/v1/content/12345")", "/api/v1/content/{id}", "/api/v1/content/12345", "{}",
       "{}"},
      {R"("route":"/users/550e8400-e29b-41d4-a716-446655440000/posts?cursor=abc")",
       "/users/{id}/posts", "/users/550e8400-e29b-41d4-a716-446655440000/posts?cursor=abc",
       R"({"cursor":"abc"})", "{}"},
      {R"("route":"/users/{id}/posts","query_params":{"offset":"20"})", "/users/{id}/posts",
       "/users/{id}/posts?offset=20", R"({"offset":"20"})", "{}"},
      {R"("route":"/users/:id")", "/users/:id", "/users/:id", "{}", "{}"},
      // route_full, when sent, is kept as sent.
      {R"("route":"/api/x/7","route_full":"https://example.com/api/x/7?b=1&a=2",)"
       R"("query_params":{"a":"2","b":"1"})",
       "/api/x/{id}", "https://example.com/api/x/7?b=1&a=2", R"({"a":"2","b":"1"})",
       R"({"a":"2","b":"1"})"},
      // Percent-decoding in, urlencode out.
      {R"("route":"/s?q=red+cat%21&x=%C3%A9")", "/s", "/s?q=red+cat%21&x=%C3%A9",
       R"({"q":"red cat!","x":"é"})", R"({"q":"red cat!","x":"é"})"},
  };
  for (const Case& c : cases) {
    const std::string text =
        R"({"method":"GET","duration_ms":1,"status_code":200,)" + c.members + "}";
    const RouteEvent event = decode_valid_route(text);
    EXPECT_EQ(event.route, c.route) << text;
    EXPECT_EQ(event.route_full, c.route_full) << text;
    EXPECT_EQ(event.query_params_json, c.params) << text;
    EXPECT_EQ(event.query_params_normalized_json, c.normalized) << text;
  }
}

TEST(DecodeRouteEventTest, NormalisationIsConfigurable) {
  RouteNormalization normalization;
  normalization.variable_params = {"ts"};
  normalization.template_ids = false;
  const RouteEvent event =
      decode_valid_route(hit_at(R"("/api/items/42?ts=1&page=3")"), normalization);
  EXPECT_EQ(event.route, "/api/items/42");
  EXPECT_EQ(event.query_params_normalized_json, R"({"page":"3"})");
}

TEST(DecodeRouteEventTest, CutsALongRouteFullOnAUtf8Boundary) {
  const std::string sent = "/" + std::string(8190, 'a') + "é" + "tail";  // é at bytes 8191-8192
  EXPECT_EQ(decode_valid_route(hit_with(R"("route_full":)" + json_string(sent))).route_full,
            "/" + std::string(8190, 'a'));
  // Also a built one: long parameter values are not limited on their own.
  const std::string value(9000, 'v');
  const RouteEvent event =
      decode_valid_route(hit_with(R"("query_params":{"q":")" + value + R"("})"));
  EXPECT_EQ(event.route_full.size(), 8192u);
  EXPECT_EQ(event.query_params_json, R"({"q":")" + value + R"("})");
}

TEST(DecodeRouteEventTest, ResetsAReusedEvent) {
  RouteEvent event;
  std::vector<FieldError> errors;
  ASSERT_TRUE(decode(hit_with(R"("db_query_count":5,"cache_status":"hit")"), &event, &errors));
  ASSERT_TRUE(decode(hit_with(""), &event, &errors));
  EXPECT_EQ(event.db_query_count, std::nullopt);
  EXPECT_EQ(event.cache_status, std::nullopt);
}

// ---------------------------------------------------------------------------
// to_json

TEST(RouteToJsonTest, WritesWireNames) {
  const RouteEvent event = decode_valid_route(hit_at(
      R"("/a/1?page=2&q=x")", R"("event_id":"0a6f7e48-3d1b-4c4b-9f9a-2c1d5e6f7a8b",)"
                              R"("timestamp":"2025-01-15T11:30:45.5+01:00","cache_status":"hit")"));
  EXPECT_EQ(json::value(to_json(event)), json::parse(R"({
    "event_id": "0a6f7e48-3d1b-4c4b-9f9a-2c1d5e6f7a8b",
    "route": "/a/{id}",
    "route_full": "/a/1?page=2&q=x",
    "method": "GET",
    "timestamp": "2025-01-15T10:30:45.500000Z",
    "duration_ms": 1,
    "status_code": 200,
    "query_params": {"page": "2", "q": "x"},
    "query_params_normalized": {"q": "x"},
    "cache_status": "hit"
  })"));
}

TEST(RouteToJsonTest, RoundTripsThroughDecode) {
  const RouteEvent event = decode_valid_route(R"({
    "route": "/users/550e8400-e29b-41d4-a716-446655440000/posts?page=3&sort=new&q=a%20b",
    "method": "patch", "user_id": "550e8400-e29b-41d4-a716-446655440000",
    "timestamp": "2025-01-15T10:30:45.123456Z", "duration_ms": 17, "status_code": 503,
    "query_params": {"limit": 20, "beta": true}, "request_size_bytes": 1,
    "response_size_bytes": 2, "error_type": "timeout", "db_query_count": 3,
    "cache_status": "miss"})");
  const json::object once = to_json(event);
  EXPECT_EQ(once.size(), 15u);
  EXPECT_EQ(to_json(decode_valid_route(json::serialize(once))), once);
}

// ---------------------------------------------------------------------------
// Bodies: the same framing as generation ingest.

TEST(DecodeRouteBodyTest, DecodesOneObject) {
  const DecodedRouteBatch batch = decode_route_body(hit_with(""), false, kNow, {}, {});
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].route, "/api/v1/content/unified");
  EXPECT_THAT(batch.rejected.listed, IsEmpty());
}

TEST(DecodeRouteBodyTest, DecodesAnArrayEventByEvent) {
  const std::string body = "[" + hit_with(R"("duration_ms":1)") + "," +
                           hit_with(R"("duration_ms":-1,"status_code":42)") + ", 7," +
                           hit_with(R"("duration_ms":3)") + "]";
  const DecodedRouteBatch batch = decode_route_body(body, false, kNow, {}, {});
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[0].duration_ms, 1);
  EXPECT_EQ(batch.events[1].duration_ms, 3);
  ASSERT_EQ(batch.rejected.listed.size(), 2u);
  EXPECT_EQ(batch.rejected.listed[0].index, 1u);
  EXPECT_THAT(batch.rejected.listed[0].errors,
              ElementsAre(FieldError{"/duration_ms", "must be a non-negative integer"},
                          FieldError{"/status_code", "must be an HTTP status code (100-599)"}));
  EXPECT_EQ(batch.rejected.listed[1].index, 2u);
  EXPECT_THAT(batch.rejected.listed[1].errors, ElementsAre(FieldError{"", "must be a JSON object"}));
}

TEST(DecodeRouteBodyTest, EmptyBodiesHoldNoEvents) {
  for (const char* body : {"", "  \n\t ", "[]", " [ ] \n"}) {
    const DecodedRouteBatch batch = decode_route_body(body, false, kNow, {}, {});
    EXPECT_THAT(batch.events, IsEmpty()) << body;
    EXPECT_THAT(batch.rejected.listed, IsEmpty()) << body;
  }
}

TEST(DecodeRouteBodyTest, NdjsonIndexesCountNonBlankLines) {
  const std::string body =
      hit_with(R"("duration_ms":0)") + "\n\n" + R"({"route":"/a",)" + "\r\n" +  // malformed line
      "   \n" + hit_with(R"("method":"BREW")") + "\n" + hit_with(R"("duration_ms":3)") + "\r\n";
  for (const bool ndjson : {true, false}) {  // detected without the flag
    const DecodedRouteBatch batch = decode_route_body(body, ndjson, kNow, {}, {});
    ASSERT_EQ(batch.events.size(), 2u);
    EXPECT_EQ(batch.events[0].duration_ms, 0);
    EXPECT_EQ(batch.events[1].duration_ms, 3);
    ASSERT_EQ(batch.rejected.listed.size(), 2u);
    EXPECT_EQ(batch.rejected.listed[0].index, 1u);
    ASSERT_EQ(batch.rejected.listed[0].errors.size(), 1u);
    EXPECT_EQ(batch.rejected.listed[0].errors[0].field, "");
    EXPECT_THAT(batch.rejected.listed[0].errors[0].message, StartsWith("malformed JSON: "));
    EXPECT_EQ(batch.rejected.listed[1].index, 2u);
    EXPECT_THAT(batch.rejected.listed[1].errors,
                ElementsAre(FieldError{"/method", "must be an HTTP method"}));
  }
}

TEST(DecodeRouteBodyTest, RejectsAMalformedBodyAsAWhole) {
  struct Case {
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {R"({"route":"/a",})", "malformed JSON: syntax error at byte 14"},
      {R"([{"route":"/a"})", "malformed JSON: incomplete JSON at byte 15"},
      {"[{},]", "malformed JSON: syntax error at byte 4"},
      {"[] []", "malformed JSON: extra data at byte 3"},
      // A valid event before the error does not survive it.
      {"[" + hit_with("") + ", }]", "malformed JSON: syntax error at byte 89"},
  };
  for (const Case& bad : cases) {
    const DecodedRouteBatch batch = decode_route_body(bad.body, false, kNow, {}, {});
    EXPECT_THAT(batch.events, IsEmpty());
    ASSERT_EQ(batch.rejected.listed.size(), 1u) << bad.body;
    EXPECT_EQ(batch.rejected.listed[0].index, 0u);
    EXPECT_THAT(batch.rejected.listed[0].errors, ElementsAre(FieldError{"", bad.message})) << bad.body;
  }
}

TEST(DecodeRouteBodyTest, RejectsTooManyEventsAsAWhole) {
  DecodeLimits limits;
  limits.max_events_per_body = 2;
  const std::string event = hit_with("");
  for (const auto& [body, ndjson] : {std::pair{"[" + event + "," + event + ",7]", false},
                                     std::pair{event + "\n" + event + "\n" + event, true}}) {
    const DecodedRouteBatch batch = decode_route_body(body, ndjson, kNow, limits, {});
    EXPECT_THAT(batch.events, IsEmpty());
    ASSERT_EQ(batch.rejected.listed.size(), 1u);
    EXPECT_THAT(batch.rejected.listed[0].errors,
                ElementsAre(FieldError{"", "too many events in one body (limit 2)"}));
  }
}

TEST(DecodeRouteBodyTest, UsesTheGivenNormalisationAndClock) {
  RouteNormalization normalization;
  normalization.template_ids = false;
  const std::string body = hit_at(R"("/a/1")") + "\n" + hit_at(R"("/a/2")");
  const DecodedRouteBatch batch = decode_route_body(body, true, kNow + 5, {}, normalization);
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[0].route, "/a/1");
  EXPECT_EQ(batch.events[1].route, "/a/2");
  EXPECT_EQ(batch.events[1].timestamp_us, kNow + 5);
  EXPECT_NE(batch.events[0].event_id, batch.events[1].event_id);
}

}  // namespace
}  // namespace genalytics
