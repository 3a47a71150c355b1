// The flat form of a route event in a Redis stream entry, like
// stream_fields.h for generation events: one field/value pair per event
// field, all values text. Strings are themselves, integers decimal text,
// query_params and query_params_normalized JSON text of objects (the latter
// for readers only: decoding derives it from query_params).
// Alternatively one field `json` holds the whole event as JSON text. Flat
// text has no null: an absent field is omitted.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "event/rejected_event.h"
#include "event/route_event.h"
#include "event/stream_fields.h"

namespace genalytics {

// Turns the pairs of one entry into the JSON object that decode_route_event
// validates, allocating from `storage`, with flat_fields_to_json's rules:
// a value without its field's type stays a string, so that the decoder
// reports the field's usual error ("/status_code": "must be an HTTP status
// code (100-599)"); "/query_params": "must be JSON text of an object" when
// that text is not an object.
boost::json::object route_fields_to_json(std::span<const StreamField> fields,
                                         std::vector<FieldError>* errors,
                                         const boost::json::storage_ptr& storage = {});

// The flat fields of `event`, in RouteEvent's member order, absent optionals
// omitted. route_fields_to_json then decode_route_event (under the same
// RouteNormalization) gives back an identical event.
std::vector<std::pair<std::string, std::string>> to_stream_fields(const RouteEvent& event);

}  // namespace genalytics
