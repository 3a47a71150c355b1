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

// The earliest accepted event time, 2000-01-01T00:00:00Z: earlier ones are
// clock errors (1970, 0001-01-01), not history.
inline constexpr int64_t kMinEventTimestampUs = 946'684'800'000'000;

struct DecodeLimits {
  size_t max_string_length = 256;          // characters; longer strings are rejected
  size_t max_error_message_length = 2048;  // bytes; longer error messages are truncated
  size_t max_object_bytes = 16 * 1024;     // nested objects, as compact JSON text
  size_t max_events_per_body = 1'000'000;
  // Rejected events listed with their errors; the rest are only counted, so
  // an answer (and the memory behind it) stays small whatever the body.
  size_t max_rejected_listed = 100;
  // How far after the decoder's `now` a timestamp may be, in microseconds.
  int64_t max_future_skew_us = 3600LL * 1'000'000;
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

// The rejections of one body: the first `limits.max_rejected_listed` by
// index, with their errors, and how many there were in all.
struct Rejections {
  std::vector<RejectedEvent> listed;  // by increasing index
  size_t count = 0;                   // listed ones included

  bool empty() const { return count == 0; }
};

struct DecodedBatch {
  std::vector<GenerationEvent> events;  // the valid ones, in body order
  Rejections rejected;
};

// Validates one JSON value as a generation event. On success returns true and
// fills `event`; otherwise returns false, leaves `event` unspecified and
// appends every problem found to `errors`, in the order of GenerationEvent's
// fields. A missing `event_id` is derived from the event's content: the
// name-based UUID of the canonical JSON (sorted keys) of every decoded field
// except the timestamp when it was not sent, so that a retry of the same
// event is a duplicate and any different value gives another id; a
// missing `timestamp` gets `now_us`. A timestamp before kMinEventTimestampUs
// or more than `limits.max_future_skew_us` after `now_us` is an error on
// "/timestamp". A null field is an absent one; unknown fields are ignored.
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
// index and an offset in the line for NDJSON. Only the first
// `limits.max_rejected_listed` rejections are listed; all are counted. A body with more than
// `limits.max_events_per_body` events is rejected as a whole: index 0,
// "too many events in one body (limit N)". A blank body or an empty array
// gives no events and no rejections.
DecodedBatch decode_generation_body(std::string_view body, bool ndjson, int64_t now_us,
                                    const DecodeLimits& limits);

// The event as JSON with the wire field names (absent optionals omitted).
boost::json::object to_json(const GenerationEvent& event);

}  // namespace genalytics
