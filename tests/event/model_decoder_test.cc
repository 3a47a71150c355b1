// Over 400 lines: one test per field rule of the model event decoder.
#include "event/model_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>
#include <string>
#include <vector>

#include "event/decoder_tests.h"
#include "event/model_kind.h"
#include "event/time.h"
#include "event/uuid.h"

namespace genalytics {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;

using testing::BadEventCase;
using testing::json_string;
using testing::kNow;

// A valid load with `members` appended ("" for none).
std::string load_with(std::string_view members) {
  std::string text = R"({"event_type":"model_load","model_id":"sdxl_base_1.0")";
  if (!members.empty()) text.append(",").append(members);
  return text + "}";
}

// An event of `type` with `members` appended.
std::string event_of(std::string_view type, std::string_view members = "") {
  std::string text = R"({"event_type":")" + std::string(type) + R"(","model_id":"m")";
  if (!members.empty()) text.append(",").append(members);
  return text + "}";
}

bool decode(std::string_view text, ModelEvent* event, std::vector<FieldError>* errors,
            const DecodeLimits& limits = {}, int64_t now_us = kNow) {
  return decode_model_event(json::parse(text), now_us, limits, event, errors);
}

ModelEvent decode_valid_model(std::string_view text, const DecodeLimits& limits = {}) {
  ModelEvent event;
  std::vector<FieldError> errors;
  EXPECT_TRUE(decode(text, &event, &errors, limits)) << text;
  EXPECT_THAT(errors, IsEmpty()) << text;
  return event;
}

std::vector<FieldError> decode_model_errors(std::string_view text,
                                            const DecodeLimits& limits = {}) {
  ModelEvent event;
  std::vector<FieldError> errors;
  EXPECT_FALSE(decode(text, &event, &errors, limits)) << text;
  return errors;
}

// ---------------------------------------------------------------------------
// Rejections: every rule, with the exact field and message.

std::vector<BadEventCase> bad_model_cases() {
  const std::string too_long_id(kMaxModelIdLength + 1, 'x');
  const std::string too_long_string(257, 'x');
  const FieldError bad_type{
      "/event_type", "must be one of model_load, model_unload, model_download, model_health_check"};
  const FieldError bad_kind{"/model_kind",
                            "must be one of checkpoint, lora, vae, controlnet, embedding, other"};
  const FieldError bad_reason{"/reason", "must be one of idle, evicted, manual, error"};
  std::vector<BadEventCase> cases = {
      // The event as a whole.
      {"[]", {{"", "must be a JSON object"}}},
      {"null", {{"", "must be a JSON object"}}},
      {R"("model_load")", {{"", "must be a JSON object"}}},
      // Required fields.
      {"{}", {{"/event_type", "is required"}, {"/model_id", "is required"}}},
      {R"({"event_type":null,"model_id":null})",
       {{"/event_type", "is required"}, {"/model_id", "is required"}}},
      // event_type.
      {R"({"event_type":"load","model_id":"m"})", {bad_type}},
      {R"({"event_type":"MODEL_LOAD","model_id":"m"})", {bad_type}},
      {R"({"event_type":"request","model_id":"m"})", {bad_type}},
      {R"({"event_type":1,"model_id":"m"})", {bad_type}},
      // model_id.
      {R"({"event_type":"model_load","model_id":7})", {{"/model_id", "must be a string"}}},
      {R"({"event_type":"model_load","model_id":""})", {{"/model_id", "must not be empty"}}},
      {R"({"event_type":"model_load","model_id":)" + json_string(too_long_id) + "}",
       {{"/model_id", "must be at most 256 bytes"}}},
      {R"({"event_type":"model_load","model_id":"a\u0000b"})",
       {{"/model_id", "must not contain control characters"}}},
      {R"({"event_type":"model_load","model_id":"a\nb"})",
       {{"/model_id", "must not contain control characters"}}},
      {R"({"event_type":"model_load","model_id":"a\u007f"})",
       {{"/model_id", "must not contain control characters"}}},
      {R"({"event_type":"model_load","model_id":"a\u0085"})",
       {{"/model_id", "must not contain control characters"}}},
      // event_id.
      {load_with(R"("event_id":"e-1")"), {{"/event_id", "must be a UUID"}}},
      {load_with(R"("event_id":7)"), {{"/event_id", "must be a UUID"}}},
      // timestamp.
      {load_with(R"("timestamp":"yesterday")"), {{"/timestamp", "must be an RFC 3339 date-time"}}},
      {load_with(R"("timestamp":1736942400)"), {{"/timestamp", "must be an RFC 3339 date-time"}}},
      {load_with(R"("timestamp":"1999-12-31T23:59:59Z")"),
       {{"/timestamp", "must not be before 2000-01-01T00:00:00Z"}}},
      {load_with(R"("timestamp":"2025-01-15T13:00:01Z")"),
       {{"/timestamp", "must not be more than 3600 seconds ahead of the server's clock"}}},
      // Integers.
      {load_with(R"("duration_ms":-1)"), {{"/duration_ms", "must be a non-negative integer"}}},
      {load_with(R"("duration_ms":1.5)"), {{"/duration_ms", "must be a non-negative integer"}}},
      {load_with(R"("duration_ms":"5")"), {{"/duration_ms", "must be a non-negative integer"}}},
      {load_with(R"("duration_ms":2147483648)"), {{"/duration_ms", "must be at most 2147483647"}}},
      {load_with(R"("gpu_memory_mb":-3)"), {{"/gpu_memory_mb", "must be a non-negative integer"}}},
      {load_with(R"("gpu_memory_mb":true)"),
       {{"/gpu_memory_mb", "must be a non-negative integer"}}},
      {load_with(R"("size_bytes":-1)"), {{"/size_bytes", "must be a non-negative integer"}}},
      {load_with(R"("size_bytes":-1e300)"), {{"/size_bytes", "must be a non-negative integer"}}},
      {load_with(R"("size_bytes":2.5)"), {{"/size_bytes", "must be a non-negative integer"}}},
      {load_with(R"("size_bytes":"6938078334")"),
       {{"/size_bytes", "must be a non-negative integer"}}},
      {load_with(R"("size_bytes":1125899906842625)"),
       {{"/size_bytes", "must be at most 1125899906842624"}}},
      {load_with(R"("size_bytes":1e300)"), {{"/size_bytes", "must be at most 1125899906842624"}}},
      {load_with(R"("size_bytes":18446744073709551615)"),
       {{"/size_bytes", "must be at most 1125899906842624"}}},
      // success.
      {load_with(R"("success":"true")"), {{"/success", "must be a boolean"}}},
      {load_with(R"("success":1)"), {{"/success", "must be a boolean"}}},
      // error_type, error_message.
      {load_with(R"("error_type":5)"), {{"/error_type", "must be a string"}}},
      {load_with(R"("error_type":)" + json_string(too_long_string)),
       {{"/error_type", "must be at most 256 characters"}}},
      {load_with(R"("error_type":"a\u0000")"),
       {{"/error_type", "must not contain NUL characters"}}},
      {load_with(R"("error_message":{})"), {{"/error_message", "must be a string"}}},
      {load_with(R"("error_message":"a\u0000")"),
       {{"/error_message", "must not contain NUL characters"}}},
      // model_kind.
      {load_with(R"("model_kind":"ckpt")"), {bad_kind}},
      {load_with(R"("model_kind":"")"), {bad_kind}},
      {load_with(R"("model_kind":" lora")"), {bad_kind}},
      {load_with(R"("model_kind":["lora"])"), {bad_kind}},
      // base_model: model_id's rules, but optional.
      {load_with(R"("base_model":1)"), {{"/base_model", "must be a string"}}},
      {load_with(R"("base_model":"")"), {{"/base_model", "must not be empty"}}},
      {load_with(R"("base_model":)" + json_string(too_long_id)),
       {{"/base_model", "must be at most 256 bytes"}}},
      {load_with(R"("base_model":"\t")"), {{"/base_model", "must not contain control characters"}}},
      // reason: unloads only.
      {load_with(R"("reason":"idle")"), {{"/reason", "is only allowed on model_unload events"}}},
      {event_of("model_download", R"("reason":"manual")"),
       {{"/reason", "is only allowed on model_unload events"}}},
      {event_of("model_health_check", R"("reason":"bogus")"),
       {{"/reason", "is only allowed on model_unload events"}}},
      {event_of("model_unload", R"("reason":"bored")"), {bad_reason}},
      {event_of("model_unload", R"("reason":2)"), {bad_reason}},
      // An unknown type: the reason is checked alone.
      {R"({"event_type":"model_evict","model_id":"m","reason":"evicted"})", {bad_type}},
      {R"({"event_type":"model_evict","model_id":"m","reason":"x"})", {bad_type, bad_reason}},
      // worker_id: empty allowed.
      {load_with(R"("worker_id":0)"), {{"/worker_id", "must be a string"}}},
      {load_with(R"("worker_id":)" + json_string(too_long_id)),
       {{"/worker_id", "must be at most 256 bytes"}}},
      {load_with(R"("worker_id":"gpu\r0")"),
       {{"/worker_id", "must not contain control characters"}}},
      // Every problem, in field order.
      {R"({"worker_id":1,"reason":"x","base_model":"","model_kind":"y","gpu_memory_mb":-1,)"
       R"("size_bytes":-1,"error_message":1,"error_type":1,"success":0,"duration_ms":-1,)"
       R"("timestamp":"x","model_id":"","event_type":"z","event_id":"e"})",
       {{"/event_id", "must be a UUID"},
        bad_type,
        {"/model_id", "must not be empty"},
        {"/timestamp", "must be an RFC 3339 date-time"},
        {"/duration_ms", "must be a non-negative integer"},
        {"/success", "must be a boolean"},
        {"/error_type", "must be a string"},
        {"/error_message", "must be a string"},
        {"/size_bytes", "must be a non-negative integer"},
        {"/gpu_memory_mb", "must be a non-negative integer"},
        bad_kind,
        {"/base_model", "must not be empty"},
        bad_reason,
        {"/worker_id", "must be a string"}}},
  };
  return cases;
}

TEST(DecodeModelEventTest, RejectsBadEventsWithExactErrors) {
  for (const BadEventCase& bad : bad_model_cases()) {
    EXPECT_EQ(decode_model_errors(bad.json), bad.errors) << bad.json;
  }
}

TEST(DecodeModelEventTest, AppendsToExistingErrors) {
  ModelEvent event;
  std::vector<FieldError> errors = {{"/earlier", "kept"}};
  EXPECT_FALSE(decode(load_with(R"("success":"no")"), &event, &errors));
  EXPECT_THAT(errors, ElementsAre(FieldError{"/earlier", "kept"},
                                  FieldError{"/success", "must be a boolean"}));
}

TEST(DecodeModelEventTest, DecodesEveryField) {
  const ModelEvent event = decode_valid_model(R"({
    "event_id": "0A6F7E48-3D1B-4C4B-9F9A-2C1D5E6F7A8B", "event_type": "model_unload",
    "model_id": "detail_tweaker_xl", "timestamp": "2025-01-15T11:30:45.5+01:00",
    "duration_ms": 120, "success": false, "error_type": "oom",
    "error_message": "CUDA out of memory", "size_bytes": 6938078334, "gpu_memory_mb": 7100,
    "model_kind": "LoRA", "base_model": "sdxl_base_1.0", "reason": "Evicted",
    "worker_id": "gpu-0", "unknown": {"ignored": true}})");
  EXPECT_EQ(event.event_id, "0a6f7e48-3d1b-4c4b-9f9a-2c1d5e6f7a8b");
  EXPECT_EQ(event.event_type, ModelEventType::kUnload);
  EXPECT_EQ(event.model_id, "detail_tweaker_xl");
  EXPECT_EQ(event.timestamp_us, *parse_rfc3339("2025-01-15T10:30:45.5Z"));
  EXPECT_EQ(event.duration_ms, 120);
  EXPECT_EQ(event.success, false);
  EXPECT_FALSE(event.succeeded());
  EXPECT_EQ(event.error_type, "oom");
  EXPECT_EQ(event.error_message, "CUDA out of memory");
  EXPECT_EQ(event.size_bytes, 6'938'078'334);
  EXPECT_EQ(event.gpu_memory_mb, 7100);
  EXPECT_EQ(event.model_kind, "lora");
  EXPECT_EQ(event.base_model, "sdxl_base_1.0");
  EXPECT_EQ(event.reason, "evicted");
  EXPECT_EQ(event.worker_id, "gpu-0");
}

TEST(DecodeModelEventTest, DecodesEveryType) {
  EXPECT_EQ(decode_valid_model(event_of("model_load")).event_type, ModelEventType::kLoad);
  EXPECT_EQ(decode_valid_model(event_of("model_unload")).event_type, ModelEventType::kUnload);
  EXPECT_EQ(decode_valid_model(event_of("model_download")).event_type, ModelEventType::kDownload);
  EXPECT_EQ(decode_valid_model(event_of("model_health_check")).event_type,
            ModelEventType::kHealthCheck);
  for (ModelEventType type : {ModelEventType::kLoad, ModelEventType::kUnload,
                              ModelEventType::kDownload, ModelEventType::kHealthCheck}) {
    EXPECT_EQ(parse_model_event_type(to_string(type)), type);
  }
  EXPECT_EQ(parse_model_event_type("model_evict"), std::nullopt);
}

TEST(DecodeModelEventTest, EveryKindAndReasonInAnyCase) {
  for (std::string_view kind : kModelKinds) {
    std::string upper(kind);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(decode_valid_model(load_with(R"("model_kind":)" + json_string(upper))).model_kind,
              kind);
  }
  for (std::string_view reason : kUnloadReasons) {
    EXPECT_EQ(
        decode_valid_model(event_of("model_unload", R"("reason":)" + json_string(reason))).reason,
        reason);
  }
}

TEST(DecodeModelEventTest, DefaultsEventIdAndTimestampAndOptionals) {
  const ModelEvent first = decode_valid_model(load_with(""));
  const ModelEvent second =
      decode_valid_model(load_with(R"("event_id":null,"timestamp":null,"reason":null)"));
  EXPECT_EQ(canonical_uuid(first.event_id), first.event_id);
  EXPECT_EQ(first.event_id[14], '5');  // derived from the content
  EXPECT_EQ(first.event_id, second.event_id);
  EXPECT_EQ(first.timestamp_us, kNow);
  EXPECT_TRUE(first.succeeded());  // success absent: successful
  EXPECT_EQ(first.success, std::nullopt);
  EXPECT_EQ(first.duration_ms, std::nullopt);
  EXPECT_EQ(first.size_bytes, std::nullopt);
  EXPECT_EQ(first.gpu_memory_mb, std::nullopt);
  EXPECT_EQ(first.model_kind, std::nullopt);
  EXPECT_EQ(first.base_model, std::nullopt);
  EXPECT_EQ(first.reason, std::nullopt);
  EXPECT_EQ(first.worker_id, std::nullopt);
}

TEST(DecodeModelEventTest, RetryWithoutEventIdGetsTheSameDerivedId) {
  const std::string sent =
      load_with(R"("timestamp":"2025-01-15T10:30:45.123Z","duration_ms":4200,"worker_id":"gpu-1",)"
                R"("model_kind":"checkpoint")");
  const ModelEvent first = decode_valid_model(sent);
  EXPECT_EQ(decode_valid_model(sent).event_id, first.event_id);
  // The same content in another order and spelling.
  EXPECT_EQ(
      decode_valid_model(R"({"model_kind":"CHECKPOINT","worker_id":"gpu-1","duration_ms":4200.0,)"
                         R"("timestamp":"2025-01-15T10:30:45.123+00:00",)"
                         R"("model_id":"sdxl_base_1.0","event_type":"model_load"})")
          .event_id,
      first.event_id);
  // Later, without a timestamp: the defaulted one is not part of the id.
  ModelEvent later;
  std::vector<FieldError> errors;
  ASSERT_TRUE(decode(load_with(""), &later, &errors, {}, kNow + kMicrosPerSecond));
  EXPECT_EQ(later.event_id, decode_valid_model(load_with("")).event_id);

  std::set<std::string> ids;
  const std::string variants[] = {
      load_with(""),
      event_of("model_unload"),
      event_of("model_download"),
      event_of("model_health_check"),
      load_with(R"("timestamp":"2025-01-15T10:30:45.123Z")"),
      load_with(R"("duration_ms":1)"),
      load_with(R"("success":true)"),
      load_with(R"("success":false)"),
      load_with(R"("error_type":"oom")"),
      load_with(R"("error_message":"oom")"),
      load_with(R"("size_bytes":1)"),
      load_with(R"("gpu_memory_mb":1)"),
      load_with(R"("model_kind":"vae")"),
      load_with(R"("base_model":"b")"),
      load_with(R"("worker_id":"gpu-0")"),
      load_with(R"("worker_id":"")"),
      event_of("model_unload", R"("reason":"idle")"),
  };
  for (const std::string& variant : variants) ids.insert(decode_valid_model(variant).event_id);
  EXPECT_EQ(ids.size(), std::size(variants));
}

TEST(DecodeModelEventTest, IdsAreMeasuredInBytesAndNotTrimmed) {
  std::string accents;
  for (size_t i = 0; i < kMaxModelIdLength / 2; ++i) accents += "é";  // 128 characters, 256 bytes
  EXPECT_EQ(decode_valid_model(load_with(R"("model_id":)" + json_string(accents))).model_id,
            accents);
  EXPECT_EQ(decode_model_errors(load_with(R"("model_id":)" + json_string("a" + accents))),
            (std::vector<FieldError>{{"/model_id", "must be at most 256 bytes"}}));
  const ModelEvent spaced = decode_valid_model(
      load_with(R"("model_id":" sdxl ","base_model":" b","worker_id":"","error_type":"")"));
  EXPECT_EQ(spaced.model_id, " sdxl ");
  EXPECT_EQ(spaced.base_model, " b");
  EXPECT_EQ(spaced.worker_id, "");
  EXPECT_EQ(spaced.error_type, "");
}

TEST(DecodeModelEventTest, SizesBeyondTwoGibibytes) {
  EXPECT_EQ(decode_valid_model(load_with(R"("size_bytes":6938078334)")).size_bytes, 6'938'078'334);
  EXPECT_EQ(decode_valid_model(load_with(R"("size_bytes":6.938078334e9)")).size_bytes,
            6'938'078'334);
  EXPECT_EQ(decode_valid_model(load_with(R"("size_bytes":1125899906842624)")).size_bytes,
            kMaxModelSizeBytes);
  EXPECT_EQ(decode_valid_model(load_with(R"("size_bytes":0)")).size_bytes, 0);
  EXPECT_EQ(
      decode_valid_model(load_with(R"("gpu_memory_mb":0,"duration_ms":2147483647)")).duration_ms,
      kMaxEventInteger);
}

TEST(DecodeModelEventTest, LimitsComeFromDecodeLimits) {
  DecodeLimits limits;
  limits.max_string_length = 3;
  limits.max_error_message_length = 5;
  limits.max_future_skew_us = 0;
  EXPECT_EQ(decode_model_errors(
                load_with(R"("error_type":"oops","timestamp":"2025-01-15T12:00:01Z")"), limits),
            (std::vector<FieldError>{
                {"/timestamp", "must not be more than 0 seconds ahead of the server's clock"},
                {"/error_type", "must be at most 3 characters"}}));
  // model_id and worker_id have their own limit, not max_string_length.
  const ModelEvent event = decode_valid_model(
      load_with(R"("model_id":"longer_than_three","worker_id":"gpu-12","error_message":"abcdefg")"),
      limits);
  EXPECT_EQ(event.model_id, "longer_than_three");
  EXPECT_EQ(event.error_message, "abcde");
}

TEST(DecodeModelEventTest, CutsLongErrorMessagesOnAUtf8Boundary) {
  DecodeLimits limits;
  limits.max_error_message_length = 4;
  EXPECT_EQ(decode_valid_model(load_with(R"("error_message":"aéé")"), limits).error_message, "aé");
  EXPECT_EQ(decode_valid_model(load_with(R"("error_message":"abcd")"), limits).error_message,
            "abcd");
}

TEST(DecodeModelEventTest, ResetsAReusedEvent) {
  ModelEvent event;
  std::vector<FieldError> errors;
  ASSERT_TRUE(decode(event_of("model_unload", R"("reason":"idle","size_bytes":5,"worker_id":"w")"),
                     &event, &errors));
  ASSERT_TRUE(decode(load_with(""), &event, &errors));
  EXPECT_EQ(event.reason, std::nullopt);
  EXPECT_EQ(event.size_bytes, std::nullopt);
  EXPECT_EQ(event.worker_id, std::nullopt);
}

// ---------------------------------------------------------------------------
// to_json

TEST(ModelToJsonTest, WritesWireNames) {
  const ModelEvent event = decode_valid_model(load_with(
      R"("event_id":"0a6f7e48-3d1b-4c4b-9f9a-2c1d5e6f7a8b","timestamp":"2025-01-15T10:30:45Z",)"
      R"("duration_ms":4200,"gpu_memory_mb":7100,"model_kind":"Checkpoint","worker_id":"gpu-0")"));
  EXPECT_EQ(json::value(to_json(event)), json::parse(R"({
    "event_id": "0a6f7e48-3d1b-4c4b-9f9a-2c1d5e6f7a8b",
    "event_type": "model_load",
    "model_id": "sdxl_base_1.0",
    "timestamp": "2025-01-15T10:30:45.000000Z",
    "duration_ms": 4200,
    "gpu_memory_mb": 7100,
    "model_kind": "checkpoint",
    "worker_id": "gpu-0"
  })"));
}

TEST(ModelToJsonTest, RoundTripsThroughDecode) {
  for (const std::string& text :
       {event_of(
            "model_unload",
            R"("event_id":"0a6f7e48-3d1b-4c4b-9f9a-2c1d5e6f7a8b","duration_ms":3,)"
            R"("success":false,"error_type":"e","error_message":"m\n","size_bytes":6938078334,)"
            R"("gpu_memory_mb":7,"model_kind":"lora","base_model":"b","reason":"manual",)"
            R"("worker_id":"")"),
        event_of("model_health_check"), load_with(R"("success":true)")}) {
    const json::object once = to_json(decode_valid_model(text));
    EXPECT_EQ(to_json(decode_valid_model(json::serialize(once))), once) << text;
  }
  EXPECT_EQ(
      to_json(decode_valid_model(event_of("model_unload", R"("success":false,"size_bytes":1,)"
                                                          R"("reason":"manual","worker_id":"")")))
          .size(),
      8u);
}

// ---------------------------------------------------------------------------
// Bodies: the same framing as generation ingest.

TEST(DecodeModelBodyTest, DecodesOneObject) {
  const DecodedModelBatch batch = decode_model_body(load_with(""), false, kNow, {});
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].model_id, "sdxl_base_1.0");
  EXPECT_TRUE(batch.rejected.empty());
}

TEST(DecodeModelBodyTest, DecodesAnArrayEventByEvent) {
  const std::string body = '[' + load_with(R"("duration_ms":1)") + "," +
                           load_with(R"("duration_ms":-1,"reason":"idle")") + ", 7," +
                           load_with(R"("duration_ms":3)") + "]";
  const DecodedModelBatch batch = decode_model_body(body, false, kNow, {});
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[0].duration_ms, 1);
  EXPECT_EQ(batch.events[1].duration_ms, 3);
  ASSERT_EQ(batch.rejected.listed.size(), 2u);
  EXPECT_EQ(batch.rejected.count, 2u);
  EXPECT_EQ(batch.rejected.listed[0].index, 1u);
  EXPECT_THAT(batch.rejected.listed[0].errors,
              ElementsAre(FieldError{"/duration_ms", "must be a non-negative integer"},
                          FieldError{"/reason", "is only allowed on model_unload events"}));
  EXPECT_EQ(batch.rejected.listed[1].index, 2u);
  EXPECT_THAT(batch.rejected.listed[1].errors,
              ElementsAre(FieldError{"", "must be a JSON object"}));
}

TEST(DecodeModelBodyTest, EmptyBodiesHoldNoEvents) {
  for (const char* body : {"", "  \n\t ", "[]", " [ ] \n"}) {
    const DecodedModelBatch batch = decode_model_body(body, false, kNow, {});
    EXPECT_THAT(batch.events, IsEmpty()) << body;
    EXPECT_TRUE(batch.rejected.empty()) << body;
  }
}

TEST(DecodeModelBodyTest, NdjsonIndexesCountNonBlankLines) {
  const std::string body = load_with(R"("duration_ms":0)") + "\n\n" + R"({"model_id":"a",)" +
                           "\r\n" +  // malformed line
                           "   \n" + load_with(R"("model_kind":"ckpt")") + "\n" +
                           load_with(R"("duration_ms":3)") + "\r\n";
  for (const bool ndjson : {true, false}) {  // detected without the flag
    const DecodedModelBatch batch = decode_model_body(body, ndjson, kNow, {});
    ASSERT_EQ(batch.events.size(), 2u);
    EXPECT_EQ(batch.events[0].duration_ms, 0);
    EXPECT_EQ(batch.events[1].duration_ms, 3);
    ASSERT_EQ(batch.rejected.listed.size(), 2u);
    EXPECT_EQ(batch.rejected.listed[0].index, 1u);
    ASSERT_EQ(batch.rejected.listed[0].errors.size(), 1u);
    EXPECT_EQ(batch.rejected.listed[0].errors[0].field, "");
    EXPECT_THAT(batch.rejected.listed[0].errors[0].message, StartsWith("malformed JSON: "));
    EXPECT_EQ(batch.rejected.listed[1].index, 2u);
    EXPECT_THAT(
        batch.rejected.listed[1].errors,
        ElementsAre(FieldError{
            "/model_kind", "must be one of checkpoint, lora, vae, controlnet, embedding, other"}));
  }
}

TEST(DecodeModelBodyTest, RejectsAMalformedBodyAsAWhole) {
  struct Case {
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {R"({"model_id":"a",})", "malformed JSON: syntax error at byte 16"},
      {R"([{"model_id":"a"})", "malformed JSON: incomplete JSON at byte 17"},
      {"[] []", "malformed JSON: extra data at byte 3"},
      // A valid event before the error does not survive it.
      {'[' + load_with("") + ", }]", "malformed JSON: syntax error at byte 57"},
  };
  for (const Case& bad : cases) {
    const DecodedModelBatch batch = decode_model_body(bad.body, false, kNow, {});
    EXPECT_THAT(batch.events, IsEmpty());
    ASSERT_EQ(batch.rejected.listed.size(), 1u) << bad.body;
    EXPECT_EQ(batch.rejected.listed[0].index, 0u);
    EXPECT_THAT(batch.rejected.listed[0].errors, ElementsAre(FieldError{"", bad.message}))
        << bad.body;
  }
}

TEST(DecodeModelBodyTest, RejectsTooManyEventsAsAWhole) {
  DecodeLimits limits;
  limits.max_events_per_body = 2;
  const std::string event = load_with("");
  for (const auto& [body, ndjson] : {std::pair{"[" + event + "," + event + ",7]", false},
                                     std::pair{event + "\n" + event + "\n" + event, true}}) {
    const DecodedModelBatch batch = decode_model_body(body, ndjson, kNow, limits);
    EXPECT_THAT(batch.events, IsEmpty());
    ASSERT_EQ(batch.rejected.listed.size(), 1u);
    EXPECT_THAT(batch.rejected.listed[0].errors,
                ElementsAre(FieldError{"", "too many events in one body (limit 2)"}));
  }
}

TEST(DecodeModelBodyTest, RejectionsPastTheListedOnesAreOnlyCounted) {
  DecodeLimits limits;
  limits.max_rejected_listed = 2;
  std::string body;
  for (int i = 0; i < 5; ++i) body += load_with(R"("size_bytes":-1)") + "\n";
  const DecodedModelBatch batch = decode_model_body(body, true, kNow, limits);
  EXPECT_EQ(batch.rejected.count, 5u);
  ASSERT_EQ(batch.rejected.listed.size(), 2u);
  EXPECT_EQ(batch.rejected.listed[1].index, 1u);
}

TEST(DecodeModelBodyTest, UsesTheGivenClock) {
  const std::string body = event_of("model_load") + "\n" + event_of("model_unload");
  const DecodedModelBatch batch = decode_model_body(body, true, kNow + 5, {});
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[0].timestamp_us, kNow + 5);
  EXPECT_EQ(batch.events[1].timestamp_us, kNow + 5);
  EXPECT_NE(batch.events[0].event_id, batch.events[1].event_id);
}

// ---------------------------------------------------------------------------
// The kind description.

TEST(ModelKindTest, DescribesTheKind) {
  EXPECT_EQ(ModelKind::kName, "model_usage_events");
  EXPECT_EQ(ModelKind::kWorkerStatusKey, "model_worker");
  EXPECT_EQ(ModelKind::kIngestPath, "/api/v1/events/model");
  EventDecodeOptions options;
  options.limits.max_rejected_listed = 1;
  const std::string body = load_with(R"("size_bytes":-1)") + "\n" +
                           load_with(R"("size_bytes":-2)") + "\n" + load_with(R"("size_bytes":3)");
  const DecodedModelBatch batch = ModelKind::decode_body(body, true, kNow, options);
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.rejected.count, 2u);
  EXPECT_EQ(batch.rejected.listed.size(), 1u);

  ModelEvent event;
  std::vector<FieldError> errors;
  ASSERT_TRUE(ModelKind::decode(json::parse(load_with("")), kNow, options, &event, &errors));
  const auto fields = ModelKind::to_stream_fields(event);
  const std::vector<StreamField> views(fields.begin(), fields.end());
  const json::object object = ModelKind::from_stream_fields(views, &errors, {});
  ModelEvent again;
  ASSERT_TRUE(ModelKind::decode(object, kNow, options, &again, &errors));
  EXPECT_EQ(to_json(again), to_json(event));
  EXPECT_THAT(errors, IsEmpty());
}

}  // namespace
}  // namespace genalytics
