// JSON text as a person and Python's `json` read it. Boost.JSON's serializer
// writes every double in exponent form ("9.132E1"); every answer the server
// and the CLI print goes through serialize_json instead.
#pragma once

#include <boost/json/value.hpp>
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

}  // namespace genalytics
