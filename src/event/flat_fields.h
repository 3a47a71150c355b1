// The conversion of a stream entry's flat field/value pairs (all values
// text) into the JSON object an event decoder validates, for any event type:
// the type only says which of its fields are not text.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "event/rejected_event.h"
#include "event/stream_fields.h"

namespace genalytics {

enum class FlatFieldKind : uint8_t { kInteger, kBoolean, kObject };

// A field whose value is not text: an integer in decimal, "true"/"false", or
// the JSON text of an object.
struct FlatFieldType {
  std::string_view name;
  FlatFieldKind kind;
};

// Turns the pairs of one entry into a JSON object, allocating from `storage`.
// Fields not in `types` are strings. Values that do not have their field's
// type are left as strings, so that the decoder reports the field's usual
// error. Appends "/<name>": "must be JSON text of an object" and leaves the
// field out when an object field's text is not a JSON object. When a `json`
// field is present, the event is that object alone and every other field is
// ignored ("/json": "must be JSON text of an object" when it is not one). A
// value that is not UTF-8 gives "/<name>": "must be UTF-8 text" and is left
// out; a name that is not UTF-8 is no field. A field given twice takes its
// last value.
boost::json::object flat_fields_to_json(std::span<const StreamField> fields,
                                        std::span<const FlatFieldType> types,
                                        std::vector<FieldError>* errors,
                                        const boost::json::storage_ptr& storage = {});

// Appends `name` and the flat text of `*value` (a string as it is, a boolean
// "true" or "false", an integer in decimal) when `value` holds one: the
// writer of to_stream_fields' optional fields.
template <typename T>
void put_optional(std::vector<std::pair<std::string, std::string>>* fields, std::string_view name,
                  const std::optional<T>& value) {
  if (!value) return;
  if constexpr (std::is_same_v<T, std::string>) {
    fields->emplace_back(name, *value);
  } else if constexpr (std::is_same_v<T, bool>) {
    fields->emplace_back(name, *value ? "true" : "false");
  } else {
    static_assert(std::is_integral_v<T>);
    fields->emplace_back(name, std::to_string(*value));
  }
}

}  // namespace genalytics
