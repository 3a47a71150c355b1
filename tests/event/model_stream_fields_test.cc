#include "event/model_stream_fields.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "event/decoder_tests.h"
#include "event/model_decoder.h"
#include "event/time.h"
#include "event/uuid.h"
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

// A model load in flat form, as a producer would XADD it, with `extra` appended.
Pairs load_fields(const Pairs& extra = {}) {
  Pairs fields = {{"event_id", std::string(kEventId)},
                  {"event_type", "model_load"},
                  {"model_id", "sdxl_base_1.0"},
                  {"timestamp", "2025-01-15T10:30:45.123Z"}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  return fields;
}

Decoded<ModelEvent> decode_model_fields(const Pairs& fields) {
  Decoded<ModelEvent> decoded;
  const json::object object = model_fields_to_json(views(fields), &decoded.errors);
  if (decoded.errors.empty()) {
    decoded.ok = decode_model_event(object, kNow, {}, &decoded.event, &decoded.errors);
  }
  return decoded;
}

std::vector<FieldError> model_errors_of(const Pairs& fields) {
  Decoded<ModelEvent> decoded = decode_model_fields(fields);
  EXPECT_FALSE(decoded.ok);
  return decoded.errors;
}

auto as_tuple(const ModelEvent& e) {
  return std::tie(e.event_id, e.event_type, e.model_id, e.timestamp_us, e.duration_ms, e.success,
                  e.error_type, e.error_message, e.size_bytes, e.gpu_memory_mb, e.model_kind,
                  e.base_model, e.reason, e.worker_id);
}

TEST(ModelStreamFieldsTest, ProducerFieldsDecode) {
  const Decoded<ModelEvent> decoded =
      decode_model_fields(load_fields({{"duration_ms", "4200"},
                                       {"success", "false"},
                                       {"error_type", "oom"},
                                       {"size_bytes", "6938078334"},
                                       {"gpu_memory_mb", "7100"},
                                       {"model_kind", "Checkpoint"},
                                       {"worker_id", "gpu-0"},
                                       {"unknown", "kept as text"}}));
  ASSERT_TRUE(decoded.ok) << decoded.errors.size();
  const ModelEvent& event = decoded.event;
  EXPECT_EQ(event.event_type, ModelEventType::kLoad);
  EXPECT_EQ(event.model_id, "sdxl_base_1.0");
  EXPECT_EQ(event.timestamp_us, *parse_rfc3339("2025-01-15T10:30:45.123Z"));
  EXPECT_EQ(event.duration_ms, 4200);
  EXPECT_EQ(event.success, false);
  EXPECT_EQ(event.error_type, "oom");
  EXPECT_EQ(event.size_bytes, 6'938'078'334);
  EXPECT_EQ(event.gpu_memory_mb, 7100);
  EXPECT_EQ(event.model_kind, "checkpoint");
  EXPECT_EQ(event.worker_id, "gpu-0");
}

TEST(ModelStreamFieldsTest, ValuesWithoutTheirTypeGetTheDecodersErrors) {
  EXPECT_THAT(model_errors_of(load_fields({{"size_bytes", "6.9 GB"},
                                           {"success", "yes"},
                                           {"duration_ms", "1.5"},
                                           {"gpu_memory_mb", " 3"}})),
              ElementsAre(FieldError{"/duration_ms", "must be a non-negative integer"},
                          FieldError{"/success", "must be a boolean"},
                          FieldError{"/size_bytes", "must be a non-negative integer"},
                          FieldError{"/gpu_memory_mb", "must be a non-negative integer"}));
  EXPECT_THAT(model_errors_of(load_fields({{"size_bytes", "99999999999999999999"}})),
              ElementsAre(FieldError{"/size_bytes", "must be at most 1125899906842624"}));
  EXPECT_THAT(model_errors_of(load_fields({{"reason", "idle"}})),
              ElementsAre(FieldError{"/reason", "is only allowed on model_unload events"}));
}

TEST(ModelStreamFieldsTest, TextThatIsNotUtf8IsRejected) {
  EXPECT_THAT(model_errors_of(load_fields({{"model_id", "sdxl\xff"}})),
              ElementsAre(FieldError{"/model_id", "must be UTF-8 text"}));
  EXPECT_THAT(model_errors_of(load_fields({{"worker_id", "\xed\xa0\x80"}})),  // a surrogate
              ElementsAre(FieldError{"/worker_id", "must be UTF-8 text"}));
}

TEST(ModelStreamFieldsTest, EntryWithoutEventIdGetsAnIdDerivedFromItsContent) {
  Pairs fields = load_fields();
  fields.erase(fields.begin());  // event_id
  const Decoded<ModelEvent> first = decode_model_fields(fields);
  ASSERT_TRUE(first.ok);
  EXPECT_EQ(decode_model_fields(fields).event.event_id, first.event.event_id);
  fields.emplace_back("worker_id", "gpu-1");
  EXPECT_NE(decode_model_fields(fields).event.event_id, first.event.event_id);
}

TEST(ModelStreamFieldsTest, TheJsonFieldHoldsTheWholeEvent) {
  const Decoded<ModelEvent> decoded = decode_model_fields(
      {{"model_id", "ignored"},
       {"json", R"({"event_type":"model_unload","model_id":"m","reason":"IDLE"})"}});
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(decoded.event.model_id, "m");
  EXPECT_EQ(decoded.event.reason, "idle");
  EXPECT_THAT(model_errors_of({{"json", "[]"}}),
              ElementsAre(FieldError{"/json", "must be JSON text of an object"}));
}

TEST(ModelStreamFieldsTest, WritesEveryFieldInMemberOrder) {
  const Decoded<ModelEvent> decoded =
      decode_model_fields({{"event_id", std::string(kEventId)},
                           {"event_type", "model_unload"},
                           {"model_id", "detail"},
                           {"timestamp", "2025-01-15T10:30:45.123Z"},
                           {"worker_id", "gpu-0"},
                           {"reason", "evicted"},
                           {"base_model", "sdxl"},
                           {"model_kind", "lora"},
                           {"gpu_memory_mb", "300"},
                           {"size_bytes", "228000000"},
                           {"error_message", "m"},
                           {"error_type", "e"},
                           {"success", "true"},
                           {"duration_ms", "12"}});
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(to_stream_fields(decoded.event), (Pairs{{"event_id", std::string(kEventId)},
                                                    {"event_type", "model_unload"},
                                                    {"model_id", "detail"},
                                                    {"timestamp", "2025-01-15T10:30:45.123000Z"},
                                                    {"duration_ms", "12"},
                                                    {"success", "true"},
                                                    {"error_type", "e"},
                                                    {"error_message", "m"},
                                                    {"size_bytes", "228000000"},
                                                    {"gpu_memory_mb", "300"},
                                                    {"model_kind", "lora"},
                                                    {"base_model", "sdxl"},
                                                    {"reason", "evicted"},
                                                    {"worker_id", "gpu-0"}}));
}

TEST(ModelStreamFieldsTest, AbsentOptionalsAreOmitted) {
  const Decoded<ModelEvent> decoded = decode_model_fields(load_fields());
  ASSERT_TRUE(decoded.ok);
  EXPECT_EQ(to_stream_fields(decoded.event).size(), 4u);
  EXPECT_THAT(model_errors_of({}), ElementsAre(FieldError{"/event_type", "is required"},
                                               FieldError{"/model_id", "is required"}));
}

// Every combination of present and absent fields, with values at their
// edges, comes back identical through the flat form and through `json`.
TEST(ModelStreamFieldsTest, RoundTripsGeneratedEvents) {
  std::mt19937_64 random(3);
  // Ids have no control characters; other text may.
  const std::string ids[] = {"", "gpu-0", "é\"\\/ ", std::string(kMaxModelIdLength, 'w')};
  const std::string texts[] = {"", "x", "é\"\\/\t", std::string(kMaxModelIdLength, 'w')};
  for (int i = 0; i < 500; ++i) {
    ModelEvent event;
    event.event_id = canonical_uuid("0b0e5cf2-6f0a-4b35-9a3e-1c9a3c1f6d10").value();
    event.event_type = static_cast<ModelEventType>(random() % 4);
    event.model_id = ids[1 + random() % 3];
    event.timestamp_us = kNow - static_cast<int64_t>(random() % (400 * kMicrosPerDay));
    const auto maybe = [&random] { return random() % 2 == 0; };
    if (maybe()) event.duration_ms = static_cast<int64_t>(random() % (kMaxEventInteger + 1ull));
    if (maybe()) event.success = maybe();
    if (maybe()) event.error_type = "e" + texts[random() % 3];
    if (maybe()) event.error_message = texts[random() % 4] + "\n";
    if (maybe()) event.size_bytes = static_cast<int64_t>(random() % (kMaxModelSizeBytes + 1));
    if (maybe()) event.gpu_memory_mb = static_cast<int64_t>(random() % 100'000);
    if (maybe()) event.model_kind = std::string(kModelKinds[random() % std::size(kModelKinds)]);
    if (maybe()) event.base_model = "base " + ids[random() % 3];
    if (event.event_type == ModelEventType::kUnload && maybe()) {
      event.reason = std::string(kUnloadReasons[random() % std::size(kUnloadReasons)]);
    }
    if (maybe()) event.worker_id = ids[random() % 4];

    const Decoded<ModelEvent> flat = decode_model_fields(to_stream_fields(event));
    ASSERT_TRUE(flat.ok) << json::serialize(to_json(event));
    EXPECT_EQ(as_tuple(flat.event), as_tuple(event));
    const Decoded<ModelEvent> whole =
        decode_model_fields({{"json", json::serialize(to_json(event))}});
    ASSERT_TRUE(whole.ok);
    EXPECT_EQ(as_tuple(whole.event), as_tuple(event));
  }
}

}  // namespace
}  // namespace genalytics
