// The checks that every JSON event decoder (generation_decoder,
// route_decoder) applies to its fields, with the same messages everywhere.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "event/decode_limits.h"

namespace genalytics {

// PostgreSQL cannot store NUL in text or jsonb; an event carrying one could
// never be written, so it is refused at the edge.
inline constexpr char kNulMessage[] = "must not contain NUL characters";

inline std::string_view view(const boost::json::string& text) { return {text.data(), text.size()}; }

// Compact JSON text of `value` with the members of every object, at any
// depth, in byte order of their keys: equal content gives equal text
// whatever order it was sent in.
std::string canonical_json(const boost::json::value& value);

// The id of an event of `kind` ("generation", "route") sent without one:
// the name-based UUID of the kind and the canonical JSON of `event` (the
// decoded event's to_json) without its event_id, and without its timestamp
// unless `timestamp_sent` (a retry then gets the same id however late).
std::string derived_event_id(std::string_view kind, boost::json::object event, bool timestamp_sent);

// Appends "/token" to a JSON pointer, escaping '~' and '/' (RFC 6901).
void append_pointer_token(std::string* pointer, std::string_view token);

// Code points in UTF-8 text: the bytes that do not continue a sequence.
size_t utf8_length(std::string_view text);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code
// points beyond U+10FFFF).
bool is_utf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not
// split a UTF-8 sequence.
std::string_view truncate_utf8(std::string_view text, size_t max_bytes);

enum class IntegerCheck { kOk, kNotInteger, kTooSmall, kTooLarge };

// Reads `value` as an integer in [minimum, maximum] into `*out`. A double
// with an integral value (5.0) is an integer; 5.5, "5" and true are not.
IntegerCheck check_integer(const boost::json::value& value, int64_t minimum, int64_t* out,
                           int64_t maximum = kMaxEventInteger);

// Reads an RFC 3339 date-time string. A date-time without an offset is UTC:
// Python's datetime.utcnow().isoformat(), which the seeds' producers send,
// has none. nullopt for anything else.
std::optional<int64_t> parse_event_timestamp(const boost::json::value& value);

}  // namespace genalytics
