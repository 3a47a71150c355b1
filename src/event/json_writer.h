// JSON text as a person and Python's `json` read it. Boost.JSON's serializer
// writes every double in exponent form ("9.132E1"); every answer the server
// and the CLI print goes through serialize_json instead, and every nested
// object an event decoder stores through serialize_canonical_json.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>

namespace genalytics {

// The same JSON as boost::json::serialize (same member order, same string
// escapes, integers and booleans as they are) except doubles: the shortest
// decimal that parses back to the same double, without an exponent when
// 1e-4 <= |x| < 1e16 (91.32, 0.9132, 191081.5; integral values without
// ".0": 30), with one elsewhere as Python's repr writes it (1e+16, 1.5e-05);
// -0 prints as 0, NaN and infinities as null.
std::string serialize_json(const boost::json::value& value);

// Appends one double as serialize_json writes it.
void append_json_double(double value, std::string* out);

// The number an event decoder keeps for the JSON number `value`, so that one
// value has one text (serialize_json's) however it was written and whichever
// parser reads that text back: an int64 as it is; any other number (a
// double, or an integer beyond int64, which Boost.JSON reads as uint64 or
// double) rounded to 15 significant digits, then an int64 when that is
// integral and fits (5.0, 5e0, 500e-2 are 5; -0 is 0), 0 when it is below
// the normal range (|x| < 2.2250738585072014e-308; 1e-400 parses as 0
// anyway), else that double. Why 15: DBL_DIG, the digits any decimal keeps
// through a double, and the precision that survives an inexact parser.
// Boost.JSON 1.81's parser is not correctly rounded (it multiplies by an
// inexact power of ten): it reads the shortest text of about one random
// double in six as the neighbouring double, whose shortest text differs, so
// 16 or 17 digits would not survive a stream entry or a stored row being
// decoded again; its error (about an ulp) is well under half a unit in the
// 15th digit. Returns nullopt for anything that is not a number and for
// numbers with no finite double at 15 digits (beyond 1.79769313486231e308:
// JSON has no infinity, and Boost.JSON reads 1e400 as one).
std::optional<boost::json::value> canonical_number(const boost::json::value& value);

// serialize_json's text of `value` with every number as its
// canonical_number: the form event decoders store nested objects in.
// nullopt when a number has no canonical form.
std::optional<std::string> serialize_canonical_json(const boost::json::value& value);

// Replaces every number inside `*value` that has a canonical_number by it
// (a stored text read back gives the decoder's exact values again). Returns
// false when some number has none; those are left as they are.
bool canonicalize_numbers(boost::json::value* value);

}  // namespace genalytics
