// The flat form of a model event in a Redis stream entry, like
// stream_fields.h for generation events: one field/value pair per event
// field, all values text. Strings are themselves, integers decimal text,
// `success` "true" or "false". Alternatively one field `json` holds the whole
// event as JSON text. Flat text has no null: an absent field is omitted.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "event/model_event.h"
#include "event/rejected_event.h"
#include "event/stream_fields.h"

namespace genalytics {

// Turns the pairs of one entry into the JSON object that decode_model_event
// validates, allocating from `storage`, with flat_fields_to_json's rules: a
// value without its field's type stays a string, so that the decoder reports
// the field's usual error ("/size_bytes": "must be a non-negative integer").
boost::json::object model_fields_to_json(std::span<const StreamField> fields,
                                         std::vector<FieldError>* errors,
                                         const boost::json::storage_ptr& storage = {});

// The flat fields of `event`, in ModelEvent's member order, absent optionals
// omitted. model_fields_to_json then decode_model_event gives back an
// identical event.
std::vector<std::pair<std::string, std::string>> to_stream_fields(const ModelEvent& event);

}  // namespace genalytics
