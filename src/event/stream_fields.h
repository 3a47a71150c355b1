// The flat form of a generation event in a Redis stream entry (seed 000's
// XADD example): one field/value pair per event field, all values text.
// Strings are themselves, integers decimal text, `success` is "true" or
// "false", nested objects (image_dimensions, costs, tokens, params,
// attributes) are JSON text. Alternatively one field `json` holds the whole
// event as JSON text. Flat text has no null: an absent field is omitted.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/rejected_event.h"
#include "event/generation_event.h"

namespace genalytics {

// One field/value pair of a stream entry.
using StreamField = std::pair<std::string_view, std::string_view>;

// Turns the pairs of one entry into the JSON object that
// decode_generation_event validates, allocating from `storage`. Values that
// do not have their field's type are left as strings, so that the decoder
// reports the field's usual error ("/duration_ms": "must be a non-negative
// integer"). Appends an error and leaves the field out when a nested
// object's text is not a JSON object ("/costs": "must be JSON text of an
// object"). When a `json` field is present, the event is that object alone
// and every other field is ignored; "/json": "must be JSON text of an object"
// when it is not one. A field given twice takes its last value; unknown
// fields are kept as strings (the decoder ignores them).
boost::json::object fields_to_json(std::span<const StreamField> fields,
                                   std::vector<FieldError>* errors,
                                   const boost::json::storage_ptr& storage = {});

// The flat fields of `event`, in GenerationEvent's member order, absent
// optionals omitted. fields_to_json then decode_generation_event gives back
// an identical event.
std::vector<std::pair<std::string, std::string>> to_stream_fields(const GenerationEvent& event);

}  // namespace genalytics
