// Decoding and validation of generation events from JSON (the ingest edge).
// Nothing here touches storage: a batch is decoded completely before any of
// it is written, so a rejected event is never half-stored.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string_view>
#include <vector>

#include "event/decode_limits.h"
#include "event/generation_event.h"
#include "event/rejected_event.h"

namespace genalytics {

// The largest accepted cost component, in USD, so that cost sums stay finite.
inline constexpr double kMaxCostUsd = 1e9;

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
