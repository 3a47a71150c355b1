// Every ingest limit README.md states ("Ingest" and "Route analytics"),
// decoded at the limit and one past it: the README said strings over 256
// characters were rejected while routes of 2,048 were accepted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "event/decoder_tests.h"
#include "event/generation_decoder.h"
#include "event/route_decoder.h"

namespace genalytics {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

using testing::kNow;

std::string generation_with(const std::string& members) {
  return R"({"event_type":"completion","success":true,)"
         R"("generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7",)" +
         members + "}";
}

std::string route_with(const std::string& members) {
  return R"({"method":"GET","duration_ms":1,"status_code":200,)" + members + "}";
}

std::string json_text(const std::string& text) { return "\"" + text + "\""; }

// A JSON object of compact size exactly `bytes` (at least 8): {"k":"xx..."}.
std::string object_of_size(size_t bytes) { return R"({"k":")" + std::string(bytes - 8, 'x') + "\"}"; }

std::vector<FieldError> generation_errors(const std::string& text, GenerationEvent* event) {
  std::vector<FieldError> errors;
  decode_generation_event(json::parse(text), kNow, {}, event, &errors);
  return errors;
}

std::vector<FieldError> route_errors(const std::string& text, RouteEvent* event) {
  std::vector<FieldError> errors;
  decode_route_event(json::parse(text), kNow, {}, {}, event, &errors);
  return errors;
}

struct Limit {
  std::string at_limit;   // an event with a value at the limit: accepted
  std::string past;       // the same one past it: rejected
  std::string pointer;    // the field of its one error
};

TEST(DocumentedLimitsTest, GenerationStringsOf256CharactersAreAcceptedAndLongerOnesRejected) {
  const std::string at(256, 'a');
  const std::string past(257, 'a');
  const std::vector<Limit> limits = {
      {generation_with(R"("generation_type":)" + json_text(at)),
       generation_with(R"("generation_type":)" + json_text(past)), "/generation_type"},
      {generation_with(R"("error_type":)" + json_text(at)),
       generation_with(R"("error_type":)" + json_text(past)), "/error_type"},
      {generation_with(R"("model_checkpoint":)" + json_text(at)),
       generation_with(R"("model_checkpoint":)" + json_text(past)), "/model_checkpoint"},
      {generation_with(R"("attributes":{"k":)" + json_text(at) + "}"),
       generation_with(R"("attributes":{"k":)" + json_text(past) + "}"), "/attributes/k"},
      {generation_with(R"("attributes":{)" + json_text(at) + ":1}"),
       generation_with(R"("attributes":{)" + json_text(past) + ":1}"), "/attributes"},
      {generation_with(R"("costs":{)" + json_text(at) + ":1}"),
       generation_with(R"("costs":{)" + json_text(past) + ":1}"), "/costs"},
  };
  for (const Limit& limit : limits) {
    GenerationEvent event;
    EXPECT_THAT(generation_errors(limit.at_limit, &event), IsEmpty()) << limit.pointer;
    const std::vector<FieldError> errors = generation_errors(limit.past, &event);
    ASSERT_EQ(errors.size(), 1u) << limit.pointer;
    EXPECT_EQ(errors[0].field, limit.pointer);
    EXPECT_THAT(errors[0].message, ::testing::EndsWith("at most 256 characters"));
  }
  // Characters, not bytes: 256 "é" are 512 bytes.
  std::string wide;
  for (int i = 0; i < 256; ++i) wide += "\xc3\xa9";
  GenerationEvent event;
  EXPECT_THAT(generation_errors(generation_with(R"("model_checkpoint":)" + json_text(wide)), &event),
              IsEmpty());
}

TEST(DocumentedLimitsTest, ErrorMessagesAreCutTo2048Bytes) {
  GenerationEvent event;
  ASSERT_THAT(generation_errors(generation_with(R"("error_message":)" + json_text(std::string(2048, 'm'))),
                                &event),
              IsEmpty());
  EXPECT_EQ(event.error_message->size(), 2048u);
  ASSERT_THAT(generation_errors(generation_with(R"("error_message":)" + json_text(std::string(2049, 'm'))),
                                &event),
              IsEmpty());
  EXPECT_EQ(event.error_message->size(), 2048u);
}

TEST(DocumentedLimitsTest, NestedObjectsOf16KiBAreAcceptedAndLargerOnesRejected) {
  for (const char* field : {"image_dimensions", "params"}) {
    GenerationEvent event;
    const std::string member = std::string("\"") + field + "\":";
    EXPECT_THAT(generation_errors(generation_with(member + object_of_size(16 * 1024)), &event),
                IsEmpty())
        << field;
    EXPECT_THAT(generation_errors(generation_with(member + object_of_size(16 * 1024 + 1)), &event),
                ElementsAre(FieldError{std::string("/") + field, "must be at most 16384 bytes"}));
  }
  RouteEvent route;
  // query_params {"k":"xx..."} of 16 KiB: stored as the same text.
  EXPECT_THAT(route_errors(route_with(R"("route":"/a","query_params":)" + object_of_size(16 * 1024)),
                           &route),
              IsEmpty());
  EXPECT_THAT(route_errors(route_with(R"("route":"/a","query_params":)" +
                                      object_of_size(16 * 1024 + 1)),
                           &route),
              ElementsAre(FieldError{"/query_params", "must be at most 16384 bytes"}));
}

TEST(DocumentedLimitsTest, IntegersUpTo2147483647AndCostsUpTo1e9) {
  GenerationEvent event;
  EXPECT_THAT(generation_errors(generation_with(R"("duration_ms":2147483647)"), &event), IsEmpty());
  EXPECT_THAT(generation_errors(generation_with(R"("duration_ms":2147483648)"), &event),
              ElementsAre(FieldError{"/duration_ms", "must be at most 2147483647"}));
  EXPECT_THAT(generation_errors(generation_with(R"("costs":{"compute":1e9})"), &event), IsEmpty());
  EXPECT_THAT(generation_errors(generation_with(R"("costs":{"compute":1.000001e9})"), &event),
              ElementsAre(FieldError{"/costs/compute", "must be at most 1000000000"}));
  RouteEvent route;
  EXPECT_THAT(route_errors(route_with(R"("route":"/a","response_size_bytes":2147483647)"), &route),
              IsEmpty());
  EXPECT_THAT(route_errors(route_with(R"("route":"/a","response_size_bytes":2147483648)"), &route),
              ElementsAre(FieldError{"/response_size_bytes", "must be at most 2147483647"}));
}

TEST(DocumentedLimitsTest, RoutesOf2048CharactersAreAcceptedAndLongerOnesRejected) {
  RouteEvent route;
  const std::string at = "/" + std::string(2047, 'r');
  EXPECT_THAT(route_errors(route_with(R"("route":)" + json_text(at)), &route), IsEmpty());
  EXPECT_EQ(route.route, at);
  EXPECT_THAT(route_errors(route_with(R"("route":)" + json_text(at + "r")), &route),
              ElementsAre(FieldError{"/route", "must be at most 2048 characters"}));
  // error_type follows the 256-character rule of other strings.
  EXPECT_THAT(route_errors(route_with(R"("route":"/a","error_type":)" + json_text(std::string(256, 'e'))),
                           &route),
              IsEmpty());
  EXPECT_THAT(route_errors(route_with(R"("route":"/a","error_type":)" + json_text(std::string(257, 'e'))),
                           &route),
              ElementsAre(FieldError{"/error_type", "must be at most 256 characters"}));
}

TEST(DocumentedLimitsTest, RouteFullIsCutTo8KiB) {
  RouteEvent route;
  const std::string at = "/" + std::string(8191, 'f');
  ASSERT_THAT(route_errors(route_with(R"("route":"/a","route_full":)" + json_text(at)), &route),
              IsEmpty());
  EXPECT_EQ(route.route_full, at);
  ASSERT_THAT(route_errors(route_with(R"("route":"/a","route_full":)" + json_text(at + "f")), &route),
              IsEmpty());
  EXPECT_EQ(route.route_full, at);
}

TEST(DocumentedLimitsTest, AMillionEventsPerBodyAndNoMore) {
  const DecodeLimits limits;
  ASSERT_EQ(limits.max_events_per_body, 1'000'000u);
  ASSERT_EQ(limits.max_rejected_listed, 100u);
  std::string body;
  body.reserve(3'000'003);
  for (int i = 0; i < 1'000'000; ++i) body += "{}\n";
  const DecodedBatch at = decode_generation_body(body, true, kNow, limits);
  EXPECT_EQ(at.rejected.count, 1'000'000u);  // each line judged on its own
  body += "{}\n";
  const DecodedBatch past = decode_generation_body(body, true, kNow, limits);
  EXPECT_EQ(past.rejected.count, 1u);
  EXPECT_THAT(past.rejected.listed[0].errors,
              ElementsAre(FieldError{"", "too many events in one body (limit 1000000)"}));
}

}  // namespace
}  // namespace genalytics
