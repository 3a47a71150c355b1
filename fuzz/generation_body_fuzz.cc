// Fuzzes decode_generation_body, the ingest edge of POST
// /api/v1/events/generation: one JSON object, an array, or NDJSON.
// Input: one flags byte (bit 0: the request said NDJSON), then the body.
// Invariants: the rejections (check_rejections, fuzz_support.h) are listed by
// increasing index, each with its errors, no more than the limit, and
// counted at least as often as listed; every accepted event re-encodes
// (to_json, as JSON text and back) to an identical event.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "event/generation_decoder.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using genalytics::fuzz::check;
  if (size == 0) return 0;
  const bool ndjson = (data[0] & 1) != 0;
  const std::string_view body = genalytics::fuzz::as_text(data + 1, size - 1);
  genalytics::DecodeLimits limits;
  limits.max_events_per_body = 64;  // reachable by a small input
  limits.max_rejected_listed = 8;

  const genalytics::DecodedBatch batch =
      genalytics::decode_generation_body(body, ndjson, genalytics::fuzz::kFuzzNowUs, limits);
  genalytics::fuzz::check_rejections(batch.rejected, limits);
  check(batch.events.size() <= limits.max_events_per_body, "more events than the limit");

  for (const genalytics::GenerationEvent& event : batch.events) {
    const boost::json::object json = genalytics::to_json(event);
    // What a store or a stream keeps is the JSON text: it must parse again.
    boost::json::error_code error;
    const boost::json::value reparsed = boost::json::parse(boost::json::serialize(json), error);
    check(!error, "an accepted event's JSON text does not parse");
    genalytics::GenerationEvent again;
    std::vector<genalytics::FieldError> errors;
    check(genalytics::decode_generation_event(reparsed, genalytics::fuzz::kFuzzNowUs, limits, &again,
                                              &errors),
          "an accepted event does not decode again");
    check(genalytics::to_json(again) == json, "an accepted event decodes again differently");
  }
  return 0;
}
