// Over 400 lines: one test per field rule of the generation decoder.
#include "event/generation_decoder.h"

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
using testing::kGenerationId;
using testing::kNow;
using testing::kUserId;

// A valid request event with `members` appended ("" for none).
std::string request_with(std::string_view members) {
  std::string text =
      R"({"event_type":"request","generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7")";
  if (!members.empty()) text.append(",").append(members);
  return text + "}";
}

bool decode(std::string_view text, GenerationEvent* event, std::vector<FieldError>* errors,
            const DecodeLimits& limits = {}) {
  return decode_generation_event(json::parse(text), kNow, limits, event, errors);
}

GenerationEvent decode_valid(std::string_view text) {
  GenerationEvent event;
  std::vector<FieldError> errors;
  EXPECT_TRUE(decode(text, &event, &errors)) << text;
  EXPECT_THAT(errors, IsEmpty()) << text;
  return event;
}

std::vector<FieldError> decode_errors(std::string_view text, const DecodeLimits& limits = {}) {
  GenerationEvent event;
  std::vector<FieldError> errors;
  EXPECT_FALSE(decode(text, &event, &errors, limits)) << text;
  return errors;
}

// ---------------------------------------------------------------------------
// Rejections: every rule, with the exact field and message.

std::vector<BadEventCase> bad_event_cases() {
  const std::string too_long(257, 'x');
  std::vector<BadEventCase> cases = {
      // The event as a whole.
      {"[]", {{"", "must be a JSON object"}}},
      {"null", {{"", "must be a JSON object"}}},
      {R"("request")", {{"", "must be a JSON object"}}},
      {"5", {{"", "must be a JSON object"}}},
      // Required fields.
      {"{}", {{"/event_type", "is required"}, {"/generation_id", "is required"}}},
      {R"({"event_type":null,"generation_id":null})",
       {{"/event_type", "is required"}, {"/generation_id", "is required"}}},
      {R"({"event_type":"finish","generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"})",
       {{"/event_type", "must be one of request, start, completion, cancellation"}}},
      {R"({"event_type":"REQUEST","generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"})",
       {{"/event_type", "must be one of request, start, completion, cancellation"}}},
      {R"({"event_type":1,"generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"})",
       {{"/event_type", "must be one of request, start, completion, cancellation"}}},
      {R"({"event_type":"request","generation_id":"gen-1"})",
       {{"/generation_id", "must be a UUID"}}},
      {R"({"event_type":"request","generation_id":42})", {{"/generation_id", "must be a UUID"}}},
      // UUIDs.
      {request_with(R"("user_id":"alice")"), {{"/user_id", "must be a UUID"}}},
      {request_with(R"("user_id":7)"), {{"/user_id", "must be a UUID"}}},
      {request_with(R"("event_id":"e-1")"), {{"/event_id", "must be a UUID"}}},
      {request_with(R"("event_id":{})"), {{"/event_id", "must be a UUID"}}},
      // Timestamps.
      {request_with(R"("timestamp":"2025-01-15")"),
       {{"/timestamp", "must be an RFC 3339 date-time"}}},
      {request_with(R"("timestamp":"2025-02-30T10:00:00Z")"),
       {{"/timestamp", "must be an RFC 3339 date-time"}}},
      {request_with(R"("timestamp":"2025-01-15T10:30:45.123456+2")"),
       {{"/timestamp", "must be an RFC 3339 date-time"}}},
      {request_with(R"("timestamp":1736937045)"),
       {{"/timestamp", "must be an RFC 3339 date-time"}}},
      // NUL characters (PostgreSQL cannot store them).
      {request_with(R"("model_checkpoint":"sd\u0000xl")"),
       {{"/model_checkpoint", "must not contain NUL characters"}}},
      {request_with(R"("error_message":"bad\u0000")"),
       {{"/error_message", "must not contain NUL characters"}}},
      {request_with(R"("params":{"lora":"a\u0000b"})"),
       {{"/params", "must not contain NUL characters"}}},
      {request_with(R"("attributes":{"style":"\u0000"})"),
       {{"/attributes", "must not contain NUL characters"}}},
      // success.
      {R"({"event_type":"completion","generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"})",
       {{"/success", "is required for completion events"}}},
      {R"({"event_type":"completion","generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7",)"
       R"("success":null})",
       {{"/success", "is required for completion events"}}},
      {R"({"event_type":"completion","generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7",)"
       R"("success":"true"})",
       {{"/success", "must be a boolean"}}},
      {request_with(R"("success":1)"), {{"/success", "must be a boolean"}}},
      // batch_size counts images, so zero is not allowed either.
      {request_with(R"("batch_size":0)"), {{"/batch_size", "must be a positive integer"}}},
      {request_with(R"("batch_size":-1)"), {{"/batch_size", "must be a positive integer"}}},
      {request_with(R"("batch_size":1.5)"), {{"/batch_size", "must be a positive integer"}}},
      {request_with(R"("batch_size":"2")"), {{"/batch_size", "must be a positive integer"}}},
      {request_with(R"("batch_size":4294967296)"), {{"/batch_size", "must be at most 2147483647"}}},
      // Strings measured in characters, not bytes.
      {request_with(R"("model_checkpoint":")" + too_long + R"(")"),
       {{"/model_checkpoint", "must be at most 256 characters"}}},
      {request_with(R"("error_message":404)"), {{"/error_message", "must be a string"}}},
      // Nested objects.
      {request_with(R"("image_dimensions":"832x1216")"),
       {{"/image_dimensions", "must be an object"}}},
      {request_with(R"("image_dimensions":{"width":1e400,"sizes":[1,-1e999]})"),
       {{"/image_dimensions/width", "is out of range"},
        {"/image_dimensions/sizes/1", "is out of range"}}},
      {request_with(R"("params":{"prompt":")" + std::string(16 * 1024, 'p') + R"("})"),
       {{"/params", "must be at most 16384 bytes"}}},
      {request_with(R"("params":{"a/b~c":{"x":1e400}})"),
       {{"/params/a~1b~0c/x", "is out of range"}}},
      {request_with(R"("tokens":{"input":-1,"output":"7"})"),
       {{"/tokens/input", "must be a non-negative integer"},
        {"/tokens/output", "must be a non-negative integer"}}},
      {request_with(R"("tokens":{"input":1.5,"output":3000000000})"),
       {{"/tokens/input", "must be a non-negative integer"},
        {"/tokens/output", "must be at most 2147483647"}}},
      {request_with(R"("costs":{"compute":-0.5,"storage":"0.1","network":null,"gpu":0.2})"),
       {{"/costs/compute", "must be a non-negative number"},
        {"/costs/storage", "must be a non-negative number"},
        {"/costs/network", "must be a non-negative number"}}},
      {request_with(R"("costs":{"compute":2e9,"a/b":1e400})"),
       {{"/costs/compute", "must be at most 1000000000"},
        {"/costs/a~1b", "must be at most 1000000000"}}},
      {request_with(R"("costs":{")" + too_long + R"(":1})"),
       {{"/costs", "keys must be at most 256 characters"}}},
      {request_with(R"("attributes":{"style":null,"tags":["a"],"meta":{},"ok":"anime",)"
                    R"("level":3,"beta":true})"),
       {{"/attributes/style", "must be a string, number or boolean"},
        {"/attributes/tags", "must be a string, number or boolean"},
        {"/attributes/meta", "must be a string, number or boolean"}}},
      {request_with(R"("attributes":{"style":")" + too_long + R"(","weight":1e400})"),
       {{"/attributes/style", "must be at most 256 characters"},
        {"/attributes/weight", "is out of range"}}},
      {request_with(R"("attributes":{")" + too_long + R"(":"a",")" + too_long + R"(y":"b"})"),
       {{"/attributes", "keys must be at most 256 characters"}}},
      // Every problem of an event, in the order of GenerationEvent's fields.
      {R"({"event_id":"x","event_type":"completion","generation_id":"bad","user_id":"bad",)"
       R"("timestamp":"yesterday","duration_ms":-5,"error_type":5,"batch_size":0,)"
       R"("tokens":{"input":-1},"params":[],"queue_length":1.5})",
       {{"/event_id", "must be a UUID"},
        {"/generation_id", "must be a UUID"},
        {"/user_id", "must be a UUID"},
        {"/timestamp", "must be an RFC 3339 date-time"},
        {"/duration_ms", "must be a non-negative integer"},
        {"/success", "is required for completion events"},
        {"/error_type", "must be a string"},
        {"/batch_size", "must be a positive integer"},
        {"/tokens/input", "must be a non-negative integer"},
        {"/params", "must be an object"},
        {"/queue_length", "must be a non-negative integer"}}},
  };

  for (const char* field : {"duration_ms", "queue_wait_time_ms", "generation_time_ms",
                            "prompt_tokens", "retry_count", "gpu_memory_mb", "queue_length"}) {
    const std::string pointer = std::string("/") + field;
    for (const char* value : {"-1", "-0.5", "1.5", "\"5\"", "true", "[]", "{}", "-1e400"}) {
      cases.push_back({request_with(json_string(field) + ":" + value),
                       {{pointer, "must be a non-negative integer"}}});
    }
    for (const char* value : {"2147483648", "1e20", "18446744073709551615", "1e400"}) {
      cases.push_back({request_with(json_string(field) + ":" + value),
                       {{pointer, "must be at most 2147483647"}}});
    }
  }
  for (const char* field : {"generation_type", "error_type", "model_checkpoint"}) {
    const std::string pointer = std::string("/") + field;
    for (const char* value : {"5", "true", "{}", "[\"a\"]"}) {
      cases.push_back(
          {request_with(json_string(field) + ":" + value), {{pointer, "must be a string"}}});
    }
    cases.push_back({request_with(json_string(field) + ":" + json_string(too_long)),
                     {{pointer, "must be at most 256 characters"}}});
  }
  for (const char* field : {"image_dimensions", "costs", "tokens", "params", "attributes"}) {
    const std::string pointer = std::string("/") + field;
    for (const char* value : {"\"x\"", "5", "true", "[1]"}) {
      cases.push_back(
          {request_with(json_string(field) + ":" + value), {{pointer, "must be an object"}}});
    }
  }
  return cases;
}

TEST(DecodeGenerationEventTest, RejectsBadEventsWithExactErrors) {
  for (const BadEventCase& bad : bad_event_cases()) {
    EXPECT_EQ(decode_errors(bad.json), bad.errors) << bad.json;
  }
}

TEST(DecodeGenerationEventTest, AppendsToExistingErrors) {
  GenerationEvent event;
  std::vector<FieldError> errors = {{"/earlier", "kept"}};
  EXPECT_FALSE(decode(request_with(R"("user_id":"x")"), &event, &errors));
  EXPECT_THAT(errors, ElementsAre(FieldError{"/earlier", "kept"},
                                  FieldError{"/user_id", "must be a UUID"}));
}

TEST(DecodeGenerationEventTest, LimitsComeFromDecodeLimits) {
  DecodeLimits limits;
  limits.max_string_length = 3;
  limits.max_object_bytes = 10;
  EXPECT_EQ(
      decode_errors(request_with(R"("generation_type":"abcd","params":{"abc":12345})"), limits),
      (std::vector<FieldError>{{"/generation_type", "must be at most 3 characters"},
                               {"/params", "must be at most 10 bytes"}}));
}

// ---------------------------------------------------------------------------
// Accepted events.

TEST(DecodeGenerationEventTest, DecodesTheSeedExample) {
  const GenerationEvent event = decode_valid(R"({
    "event_id": "0A6F7E48-3D1B-4C4B-9F9A-2C1D5E6F7A8B",
    "event_type": "completion",
    "generation_id": "{7C9E6679-7425-40DE-944B-E07FC1F90AE7}",
    "user_id": "550e8400-e29b-41d4-a716-446655440000",
    "timestamp": "2025-01-15T10:30:45.123Z",
    "generation_type": "standard",
    "duration_ms": 45230,
    "success": true,
    "error_type": null,
    "error_message": null,
    "queue_wait_time_ms": 1200,
    "generation_time_ms": 44030,
    "model_checkpoint": "illustriousXL_v01",
    "image_dimensions": {"width": 832, "height": 1216},
    "batch_size": 1,
    "prompt_tokens": 45,
    "costs": {"compute": 0.25, "storage": 0},
    "tokens": {"input": 45, "output": 0},
    "params": {"steps": 30, "cfg": 7.5, "loras": ["detail"]},
    "attributes": {"style": "anime", "difficulty": 3, "beta": false},
    "retry_count": 0,
    "gpu_memory_mb": 10240,
    "queue_length": 4,
    "unknown_field": {"ignored": true}
  })");
  EXPECT_EQ(event.event_id, "0a6f7e48-3d1b-4c4b-9f9a-2c1d5e6f7a8b");
  EXPECT_EQ(event.event_type, GenerationEventType::kCompletion);
  EXPECT_EQ(event.generation_id, kGenerationId);
  EXPECT_EQ(event.user_id, kUserId);
  EXPECT_EQ(event.timestamp_us, *parse_rfc3339("2025-01-15T10:30:45.123Z"));
  EXPECT_EQ(event.generation_type, "standard");
  EXPECT_EQ(event.duration_ms, 45230);
  EXPECT_EQ(event.success, true);
  EXPECT_EQ(event.error_type, std::nullopt);
  EXPECT_EQ(event.error_message, std::nullopt);
  EXPECT_EQ(event.queue_wait_time_ms, 1200);
  EXPECT_EQ(event.generation_time_ms, 44030);
  EXPECT_EQ(event.model_checkpoint, "illustriousXL_v01");
  EXPECT_EQ(event.image_dimensions_json, R"({"width":832,"height":1216})");
  EXPECT_EQ(event.batch_size, 1);
  EXPECT_EQ(event.prompt_tokens, 45);
  EXPECT_EQ(json::parse(*event.costs_json), json::parse(R"({"compute":0.25,"storage":0})"));
  EXPECT_EQ(event.tokens_json, R"({"input":45,"output":0})");
  EXPECT_EQ(json::parse(*event.params_json),
            json::parse(R"({"steps":30,"cfg":7.5,"loras":["detail"]})"));
  EXPECT_EQ(event.attributes_json, R"({"style":"anime","difficulty":3,"beta":false})");
  EXPECT_EQ(event.retry_count, 0);
  EXPECT_EQ(event.gpu_memory_mb, 10240);
  EXPECT_EQ(event.queue_length, 4);
  EXPECT_TRUE(event.is_successful_completion());
}

TEST(DecodeGenerationEventTest, DefaultsTimestampToNow) {
  EXPECT_EQ(decode_valid(request_with("")).timestamp_us, kNow);
  EXPECT_EQ(decode_valid(request_with(R"("event_id":null,"timestamp":null)")).timestamp_us, kNow);
}

// The README's example sent twice without event_id counted twice: the id
// was random.
TEST(DecodeGenerationEventTest, RetryWithoutEventIdGetsTheSameDerivedId) {
  const std::string sent = request_with(
      R"("user_id":"550e8400-e29b-41d4-a716-446655440000","costs":{"compute":0.5,"gpu":1},)"
      R"("timestamp":"2025-01-15T10:30:45.123Z","attributes":{"style":"anime"})");
  const GenerationEvent first = decode_valid(sent);
  EXPECT_EQ(canonical_uuid(first.event_id), first.event_id);
  EXPECT_EQ(first.event_id[14], '5');  // name-based
  EXPECT_EQ(decode_valid(sent).event_id, first.event_id);
  // The same content in another spelling: key order, UUID case, time format.
  const GenerationEvent respelled = decode_valid(
      R"({"attributes":{"style":"anime"},"timestamp":"2025-01-15T10:30:45.123000+00:00",)"
      R"("costs":{"gpu":1,"compute":0.5},"user_id":"550E8400-E29B-41D4-A716-446655440000",)"
      R"("generation_id":"7C9E6679-7425-40DE-944B-E07FC1F90AE7","event_type":"request",)"
      R"("unknown_field":1,"params":null})");
  EXPECT_EQ(respelled.event_id, first.event_id);
  // An explicit id is kept as sent.
  EXPECT_EQ(decode_valid(request_with(R"("event_id":"0b0e5cf2-6f0a-4b35-9a3e-1c9a3c1f6d10")"))
                .event_id,
            "0b0e5cf2-6f0a-4b35-9a3e-1c9a3c1f6d10");
}

TEST(DecodeGenerationEventTest, DerivedIdDiffersWhenAnyFieldDiffers) {
  std::set<std::string> ids;
  const std::string variants[] = {
      request_with(""),
      R"({"event_type":"start","generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"})",
      request_with(R"("user_id":"550e8400-e29b-41d4-a716-446655440000")"),
      request_with(R"("timestamp":"2025-01-15T10:30:45.123Z")"),
      request_with(R"("timestamp":"2025-01-15T10:30:45.124Z")"),
      request_with(R"("queue_length":3)"),
      request_with(R"("queue_length":4)"),
      request_with(R"("params":{"steps":30})"),
      request_with(R"("params":{"steps":31})"),
      request_with(R"("attributes":{"beta":true})"),
      request_with(R"("model_checkpoint":"a")"),
      request_with(R"("generation_type":"a")"),
  };
  for (const std::string& variant : variants) ids.insert(decode_valid(variant).event_id);
  EXPECT_EQ(ids.size(), std::size(variants));
}

// The derived id covers the fields as sent: an event without a timestamp
// gets `now`, which a retry a second later must not change.
TEST(DecodeGenerationEventTest, DerivedIdIgnoresTheDefaultedTimestamp) {
  GenerationEvent first;
  GenerationEvent later;
  std::vector<FieldError> errors;
  ASSERT_TRUE(decode_generation_event(json::parse(request_with("")), kNow, {}, &first, &errors));
  ASSERT_TRUE(decode_generation_event(json::parse(request_with("")), kNow + kMicrosPerSecond, {},
                                      &later, &errors));
  EXPECT_NE(first.timestamp_us, later.timestamp_us);
  EXPECT_EQ(first.event_id, later.event_id);
}

// 9999-12-31 was accepted and made the pipeline's last_event_at 9999.
TEST(DecodeGenerationEventTest, TimestampsOutOfRangeAreRejected) {
  const FieldError future{"/timestamp", "must not be more than 3600 seconds ahead of the server's clock"};
  const FieldError ancient{"/timestamp", "must not be before 2000-01-01T00:00:00Z"};
  EXPECT_THAT(decode_errors(request_with(R"("timestamp":"9999-12-31T23:59:59Z")")),
              ElementsAre(future));
  EXPECT_THAT(decode_errors(request_with(R"("timestamp":"0001-01-01T00:00:00Z")")),
              ElementsAre(ancient));
  EXPECT_THAT(decode_errors(request_with(R"("timestamp":"1999-12-31T23:59:59.999999Z")")),
              ElementsAre(ancient));
  // kNow is 2025-01-15T12:00:00Z: an hour ahead is the last accepted time.
  EXPECT_THAT(decode_errors(request_with(R"("timestamp":"2025-01-15T13:00:00.000001Z")")),
              ElementsAre(future));
  EXPECT_EQ(decode_valid(request_with(R"("timestamp":"2025-01-15T13:00:00Z")")).timestamp_us,
            kNow + kMicrosPerHour);
  // Backfill of real history stays possible.
  EXPECT_EQ(decode_valid(request_with(R"("timestamp":"2000-01-01T00:00:00Z")")).timestamp_us,
            kMinEventTimestampUs);
  EXPECT_EQ(format_rfc3339_seconds(kMinEventTimestampUs), "2000-01-01T00:00:00Z");
}

TEST(DecodeGenerationEventTest, FutureSkewComesFromDecodeLimits) {
  DecodeLimits limits;
  limits.max_future_skew_us = 0;
  EXPECT_THAT(decode_errors(request_with(R"("timestamp":"2025-01-15T12:00:00.000001Z")"), limits),
              ElementsAre(FieldError{"/timestamp",
                                     "must not be more than 0 seconds ahead of the server's clock"}));
}

TEST(DecodeGenerationEventTest, NullMeansAbsent) {
  const GenerationEvent event = decode_valid(
      request_with(R"("user_id":null,"duration_ms":null,"success":null,"model_checkpoint":null,)"
                   R"("params":null,"tokens":{"input":null,"output":5})"));
  EXPECT_EQ(event.user_id, std::nullopt);
  EXPECT_EQ(event.duration_ms, std::nullopt);
  EXPECT_EQ(event.success, std::nullopt);
  EXPECT_EQ(event.model_checkpoint, std::nullopt);
  EXPECT_EQ(event.params_json, std::nullopt);
  EXPECT_EQ(event.tokens_json, R"({"output":5})");
}

TEST(DecodeGenerationEventTest, AcceptsIntegralNumbersInAnySpelling) {
  const GenerationEvent event = decode_valid(
      request_with(R"("duration_ms":5.0,"queue_wait_time_ms":0,"generation_time_ms":-0.0,)"
                   R"("prompt_tokens":1e2,"queue_length":2147483647,"batch_size":1)"));
  EXPECT_EQ(event.duration_ms, 5);
  EXPECT_EQ(event.queue_wait_time_ms, 0);
  EXPECT_EQ(event.generation_time_ms, 0);
  EXPECT_EQ(event.prompt_tokens, 100);
  EXPECT_EQ(event.queue_length, kMaxEventInteger);
  EXPECT_EQ(event.batch_size, 1);
}

TEST(DecodeGenerationEventTest, StoresTokensAsIntegersWithKnownKeysOnly) {
  EXPECT_EQ(
      decode_valid(request_with(R"("tokens":{"output":7.0,"extra":"x","input":5})")).tokens_json,
      R"({"input":5,"output":7})");
  EXPECT_EQ(decode_valid(request_with(R"("tokens":{})")).tokens_json, "{}");
}

TEST(DecodeGenerationEventTest, KeepsSuccessOnOtherEventTypes) {
  EXPECT_EQ(decode_valid(request_with(R"("success":false)")).success, false);
  EXPECT_EQ(decode_valid(R"({"event_type":"cancellation","generation_id":")" +
                         std::string(kGenerationId) + R"("})")
                .event_type,
            GenerationEventType::kCancellation);
}

TEST(DecodeGenerationEventTest, MeasuresStringsInCharacters) {
  std::string accents;
  for (int i = 0; i < 256; ++i) accents += "é";  // 512 bytes, 256 characters
  EXPECT_EQ(decode_valid(request_with(R"("generation_type":")" + accents + R"(")")).generation_type,
            accents);
  EXPECT_EQ(decode_errors(request_with(R"("generation_type":")" + accents + R"(é")")),
            (std::vector<FieldError>{{"/generation_type", "must be at most 256 characters"}}));
  EXPECT_TRUE(decode_valid(request_with(R"("attributes":{"s":")" + accents + R"("})"))
                  .attributes_json.has_value());
}

TEST(DecodeGenerationEventTest, TruncatesLongErrorMessagesOnUtf8Boundary) {
  const std::string exact(2048, 'a');
  EXPECT_EQ(decode_valid(request_with(R"("error_message":")" + exact + R"(")")).error_message,
            exact);

  const std::string ascii(3000, 'a');
  EXPECT_EQ(decode_valid(request_with(R"("error_message":")" + ascii + R"(")")).error_message,
            std::string(2048, 'a'));

  // "é" takes bytes 2047 and 2048: keeping its first byte would split it.
  const std::string split = std::string(2047, 'a') + "é" + std::string(10, 'b');
  EXPECT_EQ(decode_valid(request_with(R"("error_message":")" + split + R"(")")).error_message,
            std::string(2047, 'a'));

  // A 4-byte character at bytes 2046..2049.
  const std::string emoji = std::string(2046, 'a') + "\U0001F600" + "tail";
  EXPECT_EQ(decode_valid(request_with(R"("error_message":")" + emoji + R"(")")).error_message,
            std::string(2046, 'a'));
}

TEST(DecodeGenerationEventTest, ResetsAReusedEvent) {
  GenerationEvent event;
  std::vector<FieldError> errors;
  ASSERT_TRUE(decode(request_with(R"("duration_ms":5,"params":{"a":1})"), &event, &errors));
  ASSERT_TRUE(decode(request_with(""), &event, &errors));
  EXPECT_EQ(event.duration_ms, std::nullopt);
  EXPECT_EQ(event.params_json, std::nullopt);
}

// ---------------------------------------------------------------------------
// to_json

TEST(ToJsonTest, WritesWireNamesAndNestedObjects) {
  const GenerationEvent event = decode_valid(request_with(
      R"("event_id":"0a6f7e48-3d1b-4c4b-9f9a-2c1d5e6f7a8b","timestamp":"2025-01-15T11:30:45.5+01:00",)"
      R"("batch_size":2,"image_dimensions":{"width":832},"attributes":{"style":"anime"})"));
  EXPECT_EQ(json::value(to_json(event)), json::parse(R"({
    "event_id": "0a6f7e48-3d1b-4c4b-9f9a-2c1d5e6f7a8b",
    "event_type": "request",
    "generation_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "timestamp": "2025-01-15T10:30:45.500000Z",
    "image_dimensions": {"width": 832},
    "batch_size": 2,
    "attributes": {"style": "anime"}
  })"));
}

TEST(ToJsonTest, RoundTripsThroughDecode) {
  const GenerationEvent event = decode_valid(R"({
    "event_type": "completion", "generation_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "user_id": "550e8400-e29b-41d4-a716-446655440000", "timestamp": "2025-01-15T10:30:45.123456Z",
    "generation_type": "batch", "duration_ms": 1, "success": false, "error_type": "oom",
    "error_message": "CUDA out of memory", "queue_wait_time_ms": 2, "generation_time_ms": 3,
    "model_checkpoint": "sdxl", "image_dimensions": {"width": 1}, "batch_size": 4,
    "prompt_tokens": 5, "costs": {"compute": 0.125}, "tokens": {"input": 6, "output": 7},
    "params": {"steps": 8}, "attributes": {"style": "noir"}, "retry_count": 9,
    "gpu_memory_mb": 10, "queue_length": 11})");
  const json::object once = to_json(event);
  EXPECT_EQ(once.size(), 23u);
  EXPECT_EQ(to_json(decode_valid(json::serialize(once))), once);
}

TEST(ToJsonTest, PassesUnparsableStoredTextThrough) {
  GenerationEvent event;
  event.params_json = "not json";
  EXPECT_EQ(to_json(event).at("params"), json::value("not json"));
}

// ---------------------------------------------------------------------------
// Bodies

TEST(DecodeGenerationBodyTest, DecodesOneObject) {
  const DecodedBatch batch = decode_generation_body(request_with(""), false, kNow, {});
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].generation_id, kGenerationId);
  EXPECT_THAT(batch.rejected.listed, IsEmpty());
}

TEST(DecodeGenerationBodyTest, DecodesAnArrayEventByEvent) {
  const std::string body = "[" + request_with(R"("duration_ms":1)") + "," +
                           request_with(R"("duration_ms":-1,"user_id":"x")") + ", 7," +
                           request_with(R"("duration_ms":3)") + "]";
  const DecodedBatch batch = decode_generation_body(body, false, kNow, {});
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[0].duration_ms, 1);
  EXPECT_EQ(batch.events[1].duration_ms, 3);
  ASSERT_EQ(batch.rejected.listed.size(), 2u);
  EXPECT_EQ(batch.rejected.listed[0].index, 1u);
  EXPECT_THAT(batch.rejected.listed[0].errors,
              ElementsAre(FieldError{"/user_id", "must be a UUID"},
                          FieldError{"/duration_ms", "must be a non-negative integer"}));
  EXPECT_EQ(batch.rejected.listed[1].index, 2u);
  EXPECT_THAT(batch.rejected.listed[1].errors, ElementsAre(FieldError{"", "must be a JSON object"}));
}

TEST(DecodeGenerationBodyTest, PrettyPrintedDocumentsAreNotNdjson) {
  const std::string body = "[\n  " + request_with(R"("duration_ms":1)") + ",\n\n  " +
                           request_with(R"("duration_ms":2)") + "\n]\n";
  const DecodedBatch batch = decode_generation_body(body, false, kNow, {});
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[1].duration_ms, 2);
  EXPECT_THAT(batch.rejected.listed, IsEmpty());

  const DecodedBatch single =
      decode_generation_body("\n{\n  \"event_type\": \"start\",\n  \"generation_id\": \"" +
                                 std::string(kGenerationId) + "\"\n}\n",
                             false, kNow, {});
  ASSERT_EQ(single.events.size(), 1u);
  EXPECT_EQ(single.events[0].event_type, GenerationEventType::kStart);
}

TEST(DecodeGenerationBodyTest, NestedArraysAreNotEvents) {
  const DecodedBatch batch = decode_generation_body(
      "[[" + request_with("") + "], " + request_with("") + "]", false, kNow, {});
  EXPECT_EQ(batch.events.size(), 1u);
  ASSERT_EQ(batch.rejected.listed.size(), 1u);
  EXPECT_EQ(batch.rejected.listed[0].index, 0u);
  EXPECT_THAT(batch.rejected.listed[0].errors, ElementsAre(FieldError{"", "must be a JSON object"}));
}

TEST(DecodeGenerationBodyTest, EmptyBodiesHoldNoEvents) {
  for (const char* body : {"", "  \n\t ", "[]", " [ ] \n"}) {
    const DecodedBatch batch = decode_generation_body(body, false, kNow, {});
    EXPECT_THAT(batch.events, IsEmpty()) << body;
    EXPECT_THAT(batch.rejected.listed, IsEmpty()) << body;
  }
  for (const char* body : {"", "\n\n  \r\n"}) {
    const DecodedBatch batch = decode_generation_body(body, true, kNow, {});
    EXPECT_THAT(batch.events, IsEmpty()) << body;
    EXPECT_THAT(batch.rejected.listed, IsEmpty()) << body;
  }
}

TEST(DecodeGenerationBodyTest, NdjsonIndexesCountNonBlankLines) {
  const std::string body = request_with(R"("duration_ms":0)") + "\n\n" +
                           R"({"event_type":"request",)" + "\r\n" +  // malformed line
                           "   \n" + request_with(R"("batch_size":0)") + "\n" +
                           request_with(R"("duration_ms":3)") + "\r\n";
  const DecodedBatch batch = decode_generation_body(body, true, kNow, {});
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
              ElementsAre(FieldError{"/batch_size", "must be a positive integer"}));
}

TEST(DecodeGenerationBodyTest, NdjsonLinesMustEachHoldOneObject) {
  const std::string body = "[" + request_with("") + "]\n" + request_with("") + " " +
                           request_with("") + "\n" + request_with("");
  const DecodedBatch batch = decode_generation_body(body, true, kNow, {});
  EXPECT_EQ(batch.events.size(), 1u);
  ASSERT_EQ(batch.rejected.listed.size(), 2u);
  EXPECT_THAT(batch.rejected.listed[0].errors, ElementsAre(FieldError{"", "must be a JSON object"}));
  EXPECT_EQ(batch.rejected.listed[1].index, 1u);
  EXPECT_THAT(batch.rejected.listed[1].errors[0].message, StartsWith("malformed JSON: extra data"));
}

TEST(DecodeGenerationBodyTest, DetectsNdjsonWithoutTheFlag) {
  const std::string body = request_with(R"("duration_ms":1)") + "\r\n" +
                           request_with(R"("duration_ms":2)") + "\n\n" + "{oops}\n" +
                           request_with(R"("duration_ms":4)");
  const DecodedBatch batch = decode_generation_body(body, false, kNow, {});
  ASSERT_EQ(batch.events.size(), 3u);
  EXPECT_EQ(batch.events[2].duration_ms, 4);
  ASSERT_EQ(batch.rejected.listed.size(), 1u);
  EXPECT_EQ(batch.rejected.listed[0].index, 2u);
  EXPECT_THAT(batch.rejected.listed[0].errors[0].message, StartsWith("malformed JSON: "));
}

TEST(DecodeGenerationBodyTest, RejectsAMalformedBodyAsAWhole) {
  struct Case {
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {R"({"event_type":"request",})", "malformed JSON: syntax error at byte 24"},
      {R"([{"event_type":"request"})", "malformed JSON: incomplete JSON at byte 25"},
      {request_with("") + " " + request_with(""), "malformed JSON: extra data at byte 80"},
      {"{\"event_type\":\"re\xff\"}", "malformed JSON: syntax error at byte 17"},
      {"nul", "malformed JSON: incomplete JSON at byte 3"},
      {"[", "malformed JSON: incomplete JSON at byte 1"},
      {"[{}, ", "malformed JSON: incomplete JSON at byte 5"},
      {"[{},]", "malformed JSON: syntax error at byte 4"},
      {"[{} {}]", "malformed JSON: syntax error at byte 4"},
      {"[{}] x", "malformed JSON: extra data at byte 5"},
      {"[] []", "malformed JSON: extra data at byte 3"},
      // A valid event before the error does not survive it.
      {"[" + request_with("") + ", }]", "malformed JSON: syntax error at byte 82"},
  };
  for (const Case& bad : cases) {
    const DecodedBatch batch = decode_generation_body(bad.body, false, kNow, {});
    EXPECT_THAT(batch.events, IsEmpty());
    ASSERT_EQ(batch.rejected.listed.size(), 1u) << bad.body;
    EXPECT_EQ(batch.rejected.listed[0].index, 0u);
    EXPECT_THAT(batch.rejected.listed[0].errors, ElementsAre(FieldError{"", bad.message})) << bad.body;
  }
}

TEST(DecodeGenerationBodyTest, RejectsTooManyEventsAsAWhole) {
  DecodeLimits limits;
  limits.max_events_per_body = 2;
  const std::string event = request_with("");
  const std::vector<FieldError> too_many = {{"", "too many events in one body (limit 2)"}};

  EXPECT_EQ(
      decode_generation_body("[" + event + "," + event + "]", false, kNow, limits).events.size(),
      2u);
  EXPECT_EQ(decode_generation_body(event + "\n\n" + event + "\n", true, kNow, limits).events.size(),
            2u);

  for (const auto& [body, ndjson] : {std::pair{"[" + event + "," + event + ",7]", false},
                                     std::pair{event + "\n" + event + "\nnot json", true},
                                     std::pair{event + "\n" + event + "\n" + event, false}}) {
    const DecodedBatch batch = decode_generation_body(body, ndjson, kNow, limits);
    EXPECT_THAT(batch.events, IsEmpty());
    ASSERT_EQ(batch.rejected.listed.size(), 1u);
    EXPECT_EQ(batch.rejected.listed[0].index, 0u);
    EXPECT_EQ(batch.rejected.listed[0].errors, too_many);
  }
}

// A body of a million `{}` lines answered 400 with 127 MB listing every one.
TEST(DecodeGenerationBodyTest, RejectionsPastTheListedOnesAreOnlyCounted) {
  std::string ndjson;
  std::string array = "[";
  for (int i = 0; i < 5000; ++i) {
    ndjson += i == 2 ? request_with("") + "\n" : "{}\n";
    array += i == 0 ? "{}" : ",{}";
  }
  array += "]";
  for (const auto& [body, ndjson_flag] : {std::pair{ndjson, true}, std::pair{array, false}}) {
    const DecodedBatch batch = decode_generation_body(body, ndjson_flag, kNow, {});
    EXPECT_EQ(batch.events.size(), ndjson_flag ? 1u : 0u);
    EXPECT_EQ(batch.rejected.count, ndjson_flag ? 4999u : 5000u);
    ASSERT_EQ(batch.rejected.listed.size(), 100u);
    EXPECT_EQ(batch.rejected.listed[0].index, 0u);
    EXPECT_EQ(batch.rejected.listed[2].index, ndjson_flag ? 3u : 2u);  // the first ones, by index
    EXPECT_EQ(batch.rejected.listed[99].index, ndjson_flag ? 100u : 99u);
    EXPECT_THAT(batch.rejected.listed[99].errors,
                ElementsAre(FieldError{"/event_type", "is required"},
                            FieldError{"/generation_id", "is required"}));
  }
  DecodeLimits limits;
  limits.max_rejected_listed = 0;
  const DecodedBatch counted = decode_generation_body(ndjson, true, kNow, limits);
  EXPECT_THAT(counted.rejected.listed, IsEmpty());
  EXPECT_EQ(counted.rejected.count, 4999u);
  // A body rejected as a whole counts once.
  const DecodedBatch malformed = decode_generation_body("[{}, oops]", false, kNow, {});
  EXPECT_EQ(malformed.rejected.count, 1u);
  EXPECT_EQ(malformed.rejected.listed.size(), 1u);
}

TEST(DecodeGenerationBodyTest, DecodesLongNdjsonBodies) {
  // Lines bigger than the decoder's inline buffer alternate with small ones.
  const std::string big_params = R"("params":{"prompt":")" + std::string(12'000, 'p') + R"("})";
  std::string body;
  constexpr int kLines = 2000;
  for (int i = 0; i < kLines; ++i) {
    body +=
        request_with("\"duration_ms\":" + std::to_string(i) + (i % 7 == 0 ? "," + big_params : ""));
    body += '\n';
  }
  const DecodedBatch batch = decode_generation_body(body, true, kNow, {});
  ASSERT_EQ(batch.events.size(), size_t{kLines});
  EXPECT_THAT(batch.rejected.listed, IsEmpty());
  for (int i = 0; i < kLines; ++i) ASSERT_EQ(batch.events[i].duration_ms, i);
  EXPECT_EQ(batch.events[7].params_json->size(), 12'000u + 13);
  std::set<std::string> event_ids;
  for (const GenerationEvent& event : batch.events) event_ids.insert(event.event_id);
  EXPECT_EQ(event_ids.size(), size_t{kLines});
}

TEST(GenerationDecoderTest, TimestampWithoutOffsetIsUtcAsPythonsIsoformatSends) {
  EXPECT_EQ(decode_valid(request_with(R"("timestamp":"2025-01-15T10:30:45.123456")")).timestamp_us,
            *parse_rfc3339("2025-01-15T10:30:45.123456Z"));
}

}  // namespace
}  // namespace genalytics
