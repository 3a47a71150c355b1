#include "event/stream_fields.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "event/decoder_tests.h"
#include "event/generation_decoder.h"
#include "event/json_writer.h"
#include "event/time.h"
#include "testing/events.h"

namespace genalytics {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

using testing::Decoded;
using testing::kEventId;
using testing::kGenerationId;
using testing::kNow;
using testing::kUserId;
using testing::Pairs;
using testing::views;

// A completion in seed 000's flat form, with `extra` appended.
Pairs completion_fields(const Pairs& extra = {}) {
  Pairs fields = {{"event_id", std::string(kEventId)},
                  {"event_type", "completion"},
                  {"generation_id", std::string(kGenerationId)},
                  {"user_id", std::string(kUserId)},
                  {"timestamp", "2025-01-15T10:30:45.123Z"},
                  {"success", "true"},
                  {"duration_ms", "45230"}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  return fields;
}

Decoded<GenerationEvent> decode_fields(const Pairs& fields) {
  Decoded<GenerationEvent> decoded;
  const json::object object = fields_to_json(views(fields), &decoded.errors);
  if (decoded.errors.empty()) {
    decoded.ok =
        decode_generation_event(object, kNow, DecodeLimits{}, &decoded.event, &decoded.errors);
  }
  return decoded;
}

std::vector<FieldError> errors_of(const Pairs& fields) {
  Decoded<GenerationEvent> decoded = decode_fields(fields);
  EXPECT_FALSE(decoded.ok);
  return decoded.errors;
}

auto as_tuple(const GenerationEvent& e) {
  return std::tie(e.event_id, e.event_type, e.generation_id, e.user_id, e.timestamp_us,
                  e.generation_type, e.duration_ms, e.success, e.error_type, e.error_message,
                  e.queue_wait_time_ms, e.generation_time_ms, e.model_checkpoint,
                  e.image_dimensions_json, e.batch_size, e.prompt_tokens, e.costs_json,
                  e.tokens_json, e.params_json, e.attributes_json, e.retry_count, e.gpu_memory_mb,
                  e.queue_length);
}

TEST(StreamFieldsTest, SeedXaddExampleDecodes) {
  // seed 000: XADD generation_events:stream * event_type "request" ...
  const Decoded<GenerationEvent> decoded =
      decode_fields({{"event_type", "request"},
                     {"generation_id", std::string(kGenerationId)},
                     {"user_id", std::string(kUserId)},
                     {"timestamp", "2025-01-15T10:30:45.123Z"},
                     {"generation_type", "standard"}});
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(decoded.event.event_type, GenerationEventType::kRequest);
  EXPECT_EQ(decoded.event.generation_id, kGenerationId);
  EXPECT_EQ(decoded.event.user_id, kUserId);
  EXPECT_EQ(decoded.event.timestamp_us, parse_rfc3339("2025-01-15T10:30:45.123Z"));
  EXPECT_EQ(decoded.event.generation_type, "standard");
}

TEST(StreamFieldsTest, TypedFieldsComeFromTheirText) {
  const Decoded<GenerationEvent> decoded = decode_fields(completion_fields({
      {"queue_wait_time_ms", "1200"},
      {"generation_time_ms", "44030"},
      {"model_checkpoint", "illustriousXL_v01"},
      {"image_dimensions", R"({"width": 832, "height": 1216})"},
      {"batch_size", "1"},
      {"prompt_tokens", "45"},
      {"costs", R"({"compute":0.012})"},
      {"tokens", R"({"input":45,"output":0})"},
      {"params", R"({"steps":30,"lora":["a","b"]})"},
      {"attributes", R"({"style":"anime","beta":true})"},
      {"retry_count", "0"},
      {"gpu_memory_mb", "10240"},
      {"queue_length", "12"},
  }));
  ASSERT_TRUE(decoded.ok) << decoded.errors.size();
  const GenerationEvent& e = decoded.event;
  EXPECT_EQ(e.event_id, kEventId);
  EXPECT_EQ(e.success, true);
  EXPECT_EQ(e.duration_ms, 45230);
  EXPECT_EQ(e.queue_wait_time_ms, 1200);
  EXPECT_EQ(e.generation_time_ms, 44030);
  EXPECT_EQ(e.image_dimensions_json, R"({"width":832,"height":1216})");
  EXPECT_EQ(e.batch_size, 1);
  EXPECT_EQ(e.prompt_tokens, 45);
  EXPECT_EQ(e.costs_json, R"({"compute":0.012})");
  EXPECT_EQ(e.tokens_json, R"({"input":45,"output":0})");
  EXPECT_EQ(e.params_json, R"({"steps":30,"lora":["a","b"]})");
  EXPECT_EQ(e.attributes_json, R"({"style":"anime","beta":true})");
  EXPECT_EQ(e.retry_count, 0);
  EXPECT_EQ(e.gpu_memory_mb, 10240);
  EXPECT_EQ(e.queue_length, 12);
}

TEST(StreamFieldsTest, SuccessFalseAndIntegralDecimalsAreAccepted) {
  const Decoded<GenerationEvent> decoded =
      decode_fields(completion_fields({{"success", "false"}, {"batch_size", "4.0"}}));
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(decoded.event.success, false);  // the later `success` wins
  EXPECT_EQ(decoded.event.batch_size, 4);
}

TEST(StreamFieldsTest, NonNumericIntegersGetTheDecodersFieldError) {
  for (const char* text : {"", "abc", "12abc", " 12", "12 ", "+12", "05", "0x10", "1.5", "NaN"}) {
    EXPECT_THAT(errors_of(completion_fields({{"duration_ms", text}})),
                ElementsAre(FieldError{"/duration_ms", "must be a non-negative integer"}))
        << '"' << text << '"';
  }
  EXPECT_THAT(errors_of(completion_fields({{"duration_ms", "-5"}})),
              ElementsAre(FieldError{"/duration_ms", "must be a non-negative integer"}));
  EXPECT_THAT(errors_of(completion_fields({{"batch_size", "0"}})),
              ElementsAre(FieldError{"/batch_size", "must be a positive integer"}));
  for (const char* text : {"2147483648", "99999999999999999999", "1e400"}) {
    EXPECT_THAT(errors_of(completion_fields({{"queue_length", text}})),
                ElementsAre(FieldError{"/queue_length", "must be at most 2147483647"}))
        << text;
  }
}

TEST(StreamFieldsTest, SuccessMustBeLowercaseTrueOrFalse) {
  for (const char* text : {"True", "1", "yes", ""}) {
    EXPECT_THAT(errors_of(completion_fields({{"success", text}})),
                ElementsAre(FieldError{"/success", "must be a boolean"}))
        << text;
  }
}

TEST(StreamFieldsTest, NestedFieldsMustBeJsonObjects) {
  std::vector<FieldError> errors;
  const Pairs fields = completion_fields({{"costs", "{compute: 1}"},
                                          {"tokens", "[1, 2]"},
                                          {"params", R"({"steps": 30})"},
                                          {"attributes", ""}});
  const json::object object = fields_to_json(views(fields), &errors);
  EXPECT_THAT(errors, ElementsAre(FieldError{"/costs", "must be JSON text of an object"},
                                  FieldError{"/tokens", "must be JSON text of an object"},
                                  FieldError{"/attributes", "must be JSON text of an object"}));
  EXPECT_FALSE(object.contains("costs"));
  EXPECT_EQ(json::serialize(object.at("params")), R"({"steps":30})");
}

// Regression (found by fuzz/stream_fields_fuzz): Redis values are bytes, and
// an entry with text that is not UTF-8 was accepted; PostgreSQL then refused
// the whole batch, which the worker retried forever instead of dead-lettering
// the entry.
TEST(StreamFieldsTest, TextThatIsNotUtf8IsRejected) {
  EXPECT_THAT(errors_of(completion_fields({{"model_checkpoint", "sdxl\xff"}})),
              ElementsAre(FieldError{"/model_checkpoint", "must be UTF-8 text"}));
  // An overlong encoding and a lone continuation byte.
  EXPECT_THAT(errors_of(completion_fields({{"error_message", "\xc0\xaf"}})),
              ElementsAre(FieldError{"/error_message", "must be UTF-8 text"}));
  EXPECT_THAT(errors_of(completion_fields({{"error_type", "\x80"}})),
              ElementsAre(FieldError{"/error_type", "must be UTF-8 text"}));
  // Well-formed multi-byte text is fine; an unknown field named in bytes is ignored.
  const Decoded<GenerationEvent> decoded =
      decode_fields(completion_fields({{"model_checkpoint", "caf\xc3\xa9"}, {"\xff", "x"}}));
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(decoded.event.model_checkpoint, "caf\xc3\xa9");
}

TEST(StreamFieldsTest, NestedObjectsAreStillValidatedByTheDecoder) {
  EXPECT_THAT(errors_of(completion_fields({{"costs", R"({"compute": -1})"}})),
              ElementsAre(FieldError{"/costs/compute", "must be a non-negative number"}));
}

TEST(StreamFieldsTest, TextFieldsAndUnknownFieldsStayText) {
  std::vector<FieldError> errors;
  const Pairs fields = {{"user_id", "123"}, {"model_checkpoint", "true"}, {"source", "app-7"}};
  const json::object object = fields_to_json(views(fields), &errors);
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(object.at("user_id"), "123");
  EXPECT_EQ(object.at("model_checkpoint"), "true");
  EXPECT_EQ(object.at("source"), "app-7");
}

TEST(StreamFieldsTest, JsonFieldHoldsTheWholeEventAndOtherFieldsAreIgnored) {
  const std::string event = R"({"event_type":"completion","generation_id":")" +
                            std::string(kGenerationId) +
                            R"(","success":false,"error_type":"oom","costs":{"gpu":0.5}})";
  const Decoded<GenerationEvent> decoded =
      decode_fields({{"source", "app-7"}, {"json", event}, {"success", "x"}});
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(decoded.event.success, false);
  EXPECT_EQ(decoded.event.error_type, "oom");
  EXPECT_EQ(decoded.event.costs_json, R"({"gpu":0.5})");
  EXPECT_EQ(decoded.event.timestamp_us, kNow);
}

TEST(StreamFieldsTest, JsonFieldThatIsNotAnObjectIsOneError) {
  for (const char* text : {"", "{", "[]", "\"event\"", "{} {}"}) {
    EXPECT_THAT(errors_of({{"json", text}}),
                ElementsAre(FieldError{"/json", "must be JSON text of an object"}))
        << text;
  }
}

TEST(StreamFieldsTest, FieldsAllocateFromTheGivenStorage) {
  json::monotonic_resource resource;
  json::storage_ptr storage(&resource);
  std::vector<FieldError> errors;
  const Pairs fields = completion_fields({{"params", R"({"steps": 30})"}});
  const json::object object = fields_to_json(views(fields), &errors, storage);
  EXPECT_EQ(object.storage(), storage);
  EXPECT_EQ(object.at("params").storage(), storage);
}

// An XADD with timestamp 9999-12-31 was stored; the entry's time is the
// decoder's `now` (the worker dead-letters what this rejects).
TEST(StreamFieldsTest, TimestampsOutOfRangeAreRejected) {
  const auto with_timestamp = [](std::string timestamp) {
    Pairs fields = completion_fields();
    fields[4].second = std::move(timestamp);
    return fields;
  };
  EXPECT_THAT(errors_of(with_timestamp("9999-12-31T23:59:59Z")),
              ElementsAre(FieldError{"/timestamp",
                                     "must not be more than 3600 seconds ahead of the server's clock"}));
  EXPECT_THAT(errors_of(with_timestamp("0001-01-01T00:00:00Z")),
              ElementsAre(FieldError{"/timestamp", "must not be before 2000-01-01T00:00:00Z"}));
  EXPECT_TRUE(decode_fields(with_timestamp("2025-01-15T13:00:00Z")).ok);
}

// Without event_id the decoder derives one from the content, as for HTTP.
TEST(StreamFieldsTest, EntryWithoutEventIdGetsAnIdDerivedFromItsContent) {
  Pairs fields = completion_fields();
  fields.erase(fields.begin());  // event_id
  const Decoded<GenerationEvent> first = decode_fields(fields);
  ASSERT_TRUE(first.ok);
  EXPECT_EQ(first.event.event_id[14], '5');
  EXPECT_EQ(decode_fields(fields).event.event_id, first.event.event_id);
  fields.back().second = "45231";  // duration_ms
  EXPECT_NE(decode_fields(fields).event.event_id, first.event.event_id);
}

TEST(StreamFieldsTest, MinimalEventRoundTrips) {
  GenerationEvent event;
  event.event_id = std::string(kEventId);
  event.event_type = GenerationEventType::kStart;
  event.generation_id = std::string(kGenerationId);
  event.timestamp_us = 1'736'937'045'123'456;
  const Pairs fields = to_stream_fields(event);
  EXPECT_EQ(fields, (Pairs{{"event_id", std::string(kEventId)},
                           {"event_type", "start"},
                           {"generation_id", std::string(kGenerationId)},
                           {"timestamp", "2025-01-15T10:30:45.123456Z"}}));
  const Decoded<GenerationEvent> decoded = decode_fields(fields);
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(as_tuple(decoded.event), as_tuple(event));
}

TEST(StreamFieldsTest, FullEventRoundTrips) {
  // Decoded<GenerationEvent> from JSON first, so that nested objects are in their stored form.
  const std::string text = R"({"event_id":")" + std::string(kEventId) +
                           R"(","event_type":"completion","generation_id":")" +
                           std::string(kGenerationId) + R"(","user_id":")" + std::string(kUserId) +
                           R"(","timestamp":"2025-01-15T10:30:45.123Z","generation_type":"batch",
      "duration_ms":45230,"success":false,"error_type":"timeout",
      "error_message":"line 1\nline 2 \"quoted\" é","queue_wait_time_ms":0,
      "generation_time_ms":44030,"model_checkpoint":"sdxl","image_dimensions":{"width":832,"height":1216},
      "batch_size":4,"prompt_tokens":45,"costs":{"compute":0.012,"storage":1e-7},
      "tokens":{"input":45,"output":3},"params":{"steps":30,"cfg":7.5,"lora":[]},
      "attributes":{"style":"anime","difficulty":3,"beta":true},"retry_count":2,
      "gpu_memory_mb":10240,"queue_length":7})";
  GenerationEvent event;
  std::vector<FieldError> errors;
  ASSERT_TRUE(decode_generation_event(json::parse(text), kNow, DecodeLimits{}, &event, &errors));
  const Pairs fields = to_stream_fields(event);
  EXPECT_EQ(fields.size(), 23u);
  const Decoded<GenerationEvent> decoded = decode_fields(fields);
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(as_tuple(decoded.event), as_tuple(event));
  EXPECT_EQ(fields[7], (std::pair<std::string, std::string>{"success", "false"}));
  EXPECT_EQ(fields[6], (std::pair<std::string, std::string>{"duration_ms", "45230"}));
}

// A number as sent, and as its event stores it ("" when it is rejected:
// "is out of range").
struct NumberCase {
  std::string sent;
  std::string stored;
};

// The stored text is one text for one value, however the value was written.
std::vector<NumberCase> number_cases() {
  return {
      // Found by fuzzing stream_fields (fuzz/corpus/stream_fields/
      // attribute_number_reencoding): beyond a double's precision.
      {"5555555455555555555555555555555551555555555555555555551.5", "5.55555545555556e+54"},
      {"123456789012345678901234567890", "1.23456789012346e+29"},
      // Beyond int64 (Boost.JSON reads them as uint64 or double).
      {"18446744073709551615", "1.84467440737096e+19"},
      {"9223372036854775808", "9.22337203685478e+18"},
      // int64 is exact.
      {"9223372036854775807", "9223372036854775807"},
      {"-9223372036854775808", "-9223372036854775808"},
      {"12345678901234567", "12345678901234567"},
      // Doubles in their shortest form, at most 15 digits.
      {"1.5", "1.5"},
      {"1.5E0", "1.5"},
      {"15e-1", "1.5"},
      {"0.1", "0.1"},
      {"0.30000000000000004", "0.3"},
      {"0.7071067811865476", "0.707106781186548"},
      {"-2.5e-7", "-2.5e-07"},
      {"1e300", "1e+300"},
      {"1.79769313486231e308", "1.79769313486231e+308"},
      {"1e-307", "1e-307"},
      // Integral values are integers, however written.
      {"100000", "100000"},
      {"1e5", "100000"},
      {"1.0", "1"},
      {"500e-2", "5"},
      {"1e16", "10000000000000000"},
      {"12345678901234567.0", "12345678901234600"},
      {"-0", "0"},
      {"-0.0", "0"},
      {"0e10", "0"},
      // Below the normal range is 0; past the largest 15-digit double has no
      // JSON text.
      {"1e-310", "0"},
      {"1e-400", "0"},
      {"1.7976931348623157e308", ""},
      {"1e400", ""},
      {"-1e400", ""},
  };
}

// Re-encodes `event` through its flat fields and through its JSON text (as
// an answer, and as Boost.JSON writes it) and expects the same event back.
void expect_reencodes_to_itself(const GenerationEvent& event, const std::string& context) {
  const Pairs fields = to_stream_fields(event);
  const Decoded<GenerationEvent> again = decode_fields(fields);
  ASSERT_TRUE(again.ok) << context;
  EXPECT_EQ(to_stream_fields(again.event), fields) << context;
  for (const std::string& text :
       {serialize_json(to_json(event)), json::serialize(to_json(event))}) {
    const DecodedBatch batch = decode_generation_body(text, false, kNow, {});
    ASSERT_EQ(batch.events.size(), 1u) << context << ": " << text;
    EXPECT_EQ(to_stream_fields(batch.events[0]), fields) << context << ": " << text;
  }
}

// The fuzz target's finding: a decoded entry's attribute number came back
// from the entry's own flat fields as another number.
TEST(StreamFieldsTest, AttributeNumbersSurviveTheirOwnReencoding) {
  for (const NumberCase& number : number_cases()) {
    const Decoded<GenerationEvent> decoded = decode_fields(
        completion_fields({{"attributes", R"({"style":"anime","b":)" + number.sent + "}"}}));
    if (number.stored.empty()) {
      EXPECT_THAT(decoded.errors, ElementsAre(FieldError{"/attributes/b", "is out of range"}))
          << number.sent;
      continue;
    }
    ASSERT_TRUE(decoded.ok) << number.sent;
    EXPECT_EQ(decoded.event.attributes_json, R"({"style":"anime","b":)" + number.stored + "}");
    expect_reencodes_to_itself(decoded.event, number.sent);
  }
}

// The same numbers sent over HTTP, in every nested object that keeps them.
TEST(StreamFieldsTest, BodyNumbersSurviveTheirOwnReencoding) {
  for (const NumberCase& number : number_cases()) {
    const std::string body = R"({"event_type":"request","generation_id":")" +
                             std::string(kGenerationId) + R"(","attributes":{"b":)" + number.sent +
                             R"(},"params":{"n":[)" + number.sent + R"(,{"m":)" + number.sent +
                             R"(}]},"image_dimensions":{"scale":)" + number.sent + "}}";
    const DecodedBatch batch = decode_generation_body(body, false, kNow, {});
    if (number.stored.empty()) {
      ASSERT_EQ(batch.rejected.listed.size(), 1u) << number.sent;
      EXPECT_THAT(batch.rejected.listed[0].errors,
                  ElementsAre(FieldError{"/image_dimensions/scale", "is out of range"},
                              FieldError{"/params/n/0", "is out of range"},
                              FieldError{"/params/n/1/m", "is out of range"},
                              FieldError{"/attributes/b", "is out of range"}))
          << number.sent;
      continue;
    }
    ASSERT_EQ(batch.events.size(), 1u) << number.sent;
    const GenerationEvent& event = batch.events[0];
    EXPECT_EQ(event.attributes_json, R"({"b":)" + number.stored + "}");
    EXPECT_EQ(event.params_json, R"({"n":[)" + number.stored + R"(,{"m":)" + number.stored + "}]}");
    EXPECT_EQ(event.image_dimensions_json, R"({"scale":)" + number.stored + "}");
    expect_reencodes_to_itself(event, number.sent);
  }
  const DecodedBatch costs = decode_generation_body(
      R"({"event_type":"request","generation_id":")" + std::string(kGenerationId) +
          R"(","costs":{"compute":0.30000000000000004,"storage":1e-7,"gpu":2.0}})",
      false, kNow, {});
  ASSERT_EQ(costs.events.size(), 1u);
  EXPECT_EQ(costs.events[0].costs_json, R"({"compute":0.3,"storage":1e-07,"gpu":2})");
  expect_reencodes_to_itself(costs.events[0], "costs");
}

}  // namespace
}  // namespace genalytics
