// Decoding and validation of generation events from JSON (the ingest edge).
// Nothing here touches storage: a batch is decoded completely before any of
// it is written, so a rejected event is never half-stored.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "event/generation_event.h"

namespace genalytics {

// Integer fields (durations, counts, tokens) must fit the seeds' INTEGER
// columns; this also keeps hourly sums of them far from int64 overflow.
inline constexpr int64_t kMaxEventInteger = 2'147'483'647;

// The largest accepted cost component, in USD, so that cost sums stay finite.
inline constexpr double kMaxCostUsd = 1e9;

struct DecodeLimits {
  size_t max_string_length = 256;          // characters; longer strings are rejected
  size_t max_error_message_length = 2048;  // bytes; longer error messages are truncated
  size_t max_object_bytes = 16 * 1024;     // nested objects, as compact JSON text
  size_t max_events_per_body = 1'000'000;
};

// One problem with one field. `field` is a JSON pointer ("/duration_ms",
// "/tokens/input"), or "" when the problem is the event as a whole.
struct FieldError {
  std::string field;
  std::string message;
  bool operator==(const FieldError&) const = default;
};

struct RejectedEvent {
  size_t index;  // position in the body (array element, or NDJSON line not counting blank ones)
  std::vector<FieldError> errors;
};

struct DecodedBatch {
  std::vector<GenerationEvent> events;  // the valid ones, in body order
  std::vector<RejectedEvent> rejected;  // by increasing index
};

// Validates one JSON value as a generation event. On success returns true and
// fills `event`; otherwise returns false, leaves `event` unspecified and
// appends every problem found to `errors`, in the order of GenerationEvent's
// fields. Missing `event_id` gets a random UUID, missing `timestamp` gets
// `now_us`. A null field is an absent one; unknown fields are ignored.
bool decode_generation_event(const boost::json::value& json, int64_t now_us,
                             const DecodeLimits& limits, GenerationEvent* event,
                             std::vector<FieldError>* errors);

// Decodes a request body: one JSON object, a JSON array of objects, or NDJSON
// (one object per non-blank line; always used when `ndjson` is true, and
// detected when more text follows the first value with a line break after
// that value; a pretty-printed object or array is not NDJSON).
// Malformed JSON is reported as a rejected event with field "" and message
// "malformed JSON: <reason> at byte <offset>": index 0 and an offset in the
// body for a body that does not parse (no event of it is kept); the line's
// index and an offset in the line for NDJSON. A body with more than
// `limits.max_events_per_body` events is rejected as a whole: index 0,
// "too many events in one body (limit N)". A blank body or an empty array
// gives no events and no rejections.
DecodedBatch decode_generation_body(std::string_view body, bool ndjson, int64_t now_us,
                                    const DecodeLimits& limits);

// The event as JSON with the wire field names (absent optionals omitted).
boost::json::object to_json(const GenerationEvent& event);

}  // namespace genalytics
