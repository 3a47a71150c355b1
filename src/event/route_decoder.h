// Decoding, validation and normalisation of route events from JSON (the
// ingest edge of POST /api/v1/events/route). Same bodies, limits and error
// format as generation_decoder; nothing here touches storage.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "event/decode_limits.h"
#include "event/rejected_event.h"
#include "event/route_event.h"
#include "event/route_normalizer.h"

namespace genalytics {

// The longest accepted route and route_full, in characters.
inline constexpr size_t kMaxRouteLength = 2048;

struct DecodedRouteBatch {
  std::vector<RouteEvent> events;       // the valid ones, in body order
  Rejections rejected;
};

// Validates one JSON value as a route event and normalises it (see
// route_normalizer.h). On success returns true and fills `event`; otherwise
// returns false, leaves `event` unspecified and appends every problem found
// to `errors`, in the order of RouteEvent's fields. Required: route (a path
// starting with '/', with an optional query string whose parameters join
// query_params, which win on conflicts), method (any case, stored upper case),
// duration_ms and status_code. cache_status is hit, miss, bypass or stale
// (any case, stored lower case). Missing `event_id` is derived from the
// event's content as decode_generation_event does; missing `timestamp` gets
// `now_us`, and its range is checked as there. route_full, when sent, is kept
// as sent (cut to 8 KiB). Values of query_params (strings, numbers or
// booleans) are stored as strings. A null field is an absent one; unknown
// fields, query_params_normalized among them, are ignored.
bool decode_route_event(const boost::json::value& json, int64_t now_us, const DecodeLimits& limits,
                        const RouteNormalization& normalization, RouteEvent* event,
                        std::vector<FieldError>* errors);

// Decodes a request body of route events: one JSON object, a JSON array of
// objects, or NDJSON, with decode_generation_body's framing rules and
// messages.
DecodedRouteBatch decode_route_body(std::string_view body, bool ndjson, int64_t now_us,
                                    const DecodeLimits& limits,
                                    const RouteNormalization& normalization);

// The event as JSON with the wire field names (absent optionals omitted;
// query_params and query_params_normalized as objects). decode_route_event
// of it gives back an identical event under the same normalisation.
boost::json::object to_json(const RouteEvent& event);

}  // namespace genalytics
