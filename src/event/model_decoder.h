// Decoding and validation of model lifecycle events from JSON (the ingest
// edge of POST /api/v1/events/model; issue 10). Same bodies, limits and
// error format as generation_decoder; nothing here touches storage.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string_view>
#include <vector>

#include "event/decode_limits.h"
#include "event/model_event.h"
#include "event/rejected_event.h"

namespace genalytics {

// The largest accepted size_bytes, 1 PiB: checkpoints are larger than the
// other integer fields allow (kMaxEventInteger is 2 GiB), and sums of sizes
// over a fleet stay exact in int64 and in a reader's double.
inline constexpr int64_t kMaxModelSizeBytes = int64_t{1} << 50;

struct DecodedModelBatch {
  std::vector<ModelEvent> events;  // the valid ones, in body order
  Rejections rejected;
};

// Validates one JSON value as a model event. On success returns true and
// fills `event`; otherwise returns false, leaves `event` unspecified and
// appends every problem found to `errors`, in the order of ModelEvent's
// fields. Required: event_type (model_load, model_unload, model_download,
// model_health_check) and model_id. model_id and base_model must be
// is_model_id (model_event.h; they are not trimmed); worker_id at most
// kMaxModelIdLength bytes without control characters. model_kind is one
// of kModelKinds and reason one of kUnloadReasons (any case, stored lower
// case); reason is refused on events other than model_unload. duration_ms
// and gpu_memory_mb are integers in [0, kMaxEventInteger], size_bytes in
// [0, kMaxModelSizeBytes]; error_message is cut to
// limits.max_error_message_length bytes as generation events' is. Missing
// `event_id` is derived from the event's content and missing `timestamp`
// gets `now_us`, with the range checks of decode_generation_event. A null
// field is an absent one; unknown fields are ignored.
bool decode_model_event(const boost::json::value& json, int64_t now_us, const DecodeLimits& limits,
                        ModelEvent* event, std::vector<FieldError>* errors);

// Decodes a request body of model events: one JSON object, a JSON array of
// objects, or NDJSON, with decode_generation_body's framing rules and
// messages.
DecodedModelBatch decode_model_body(std::string_view body, bool ndjson, int64_t now_us,
                                    const DecodeLimits& limits);

// The event as JSON with the wire field names (absent optionals omitted).
// decode_model_event of it gives back an identical event.
boost::json::object to_json(const ModelEvent& event);

}  // namespace genalytics
