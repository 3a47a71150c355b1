// Reading back the stored form of query parameters: the compact JSON object
// that query_params_json (route_normalizer.h) writes.
#pragma once

#include <optional>
#include <string_view>

#include "event/route_normalizer.h"

namespace genalytics {

// The parameters of a JSON object of parameters ("{\"page\":\"2\"}"). Values
// are strings as stored; a value that is not a string (not written by this
// project) is read as its compact JSON text ("2", "true"). nullopt when the
// text is not a JSON object.
std::optional<QueryParams> parse_query_params_json(std::string_view json);

}  // namespace genalytics
