// Normalisation of a called route (seed 002, "Query Parameter Handling
// Strategy"): the base route without its query string and with concrete ids
// templated, the full route with every query parameter, and the parameters
// that define a query pattern (without the ones that vary within it, like
// `page`), so that similar requests group together.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "event/route_event.h"

namespace genalytics {

struct RouteNormalization {
  // Left out of query_params_normalized: they vary within one query pattern.
  std::vector<std::string> variable_params = {"page", "offset", "limit", "cursor"};
  // Whether concrete ids in the path become "{id}" (see is_id_segment).
  bool template_ids = true;
};

// Query parameters by name, in byte order of the names; values as text.
using QueryParams = std::map<std::string, std::string, std::less<>>;

struct NormalizedRoute {
  std::string route;              // the path, ids templated when enabled
  std::string route_full;         // the path as called, '?', every parameter (none: no '?')
  std::string query_params_json;  // every parameter
  std::string query_params_normalized_json;  // without the variable ones
};

// A called route split at its '?' ("/api/x/42?page=2#top" -> "/api/x/42",
// "page=2"); the fragment is dropped. Both views point into the route.
struct SplitUrl {
  std::string_view path;
  std::string_view query;  // "" when there is none
};
SplitUrl split_url(std::string_view url);

// Normalises a path with its query parameters: templates the path's ids if
// enabled, writes route_full as the path as called then '?' and
// urlencode(params) (just the path when there are none), and the parameters
// as JSON with and without the variable ones.
NormalizedRoute normalize_route(std::string_view path, const QueryParams& params,
                                const RouteNormalization& normalization);

// Normalises an event whose route_full is the request target as called
// (path and query string, as a proxy sees it): sets route, route_full,
// query_params_json and query_params_normalized_json.
void normalize_route_event(RouteEvent* event, const RouteNormalization& normalization);

// Adds the parameters of a query string ("a=1&b=x+y&flag") to `params`:
// names and values percent-decoded with '+' as a space, a name without '='
// has the value "", a name given twice takes its last value, empty pairs
// ("a=1&&b=2") are skipped. A name or value whose decoding is not UTF-8 is
// kept as sent. Returns false when a decoded name or value contains NUL
// (`params` then holds the parameters before it).
bool parse_query_string(std::string_view query, QueryParams* params);

// The path with every id segment (see is_id_segment) replaced by "{id}":
// "/users/550e8400-e29b-41d4-a716-446655440000/posts" -> "/users/{id}/posts".
std::string template_path(std::string_view path);

// Whether a path segment is a concrete id: all digits, a UUID, or at least
// 16 hex digits. Templates ("{id}", ":id") are not.
bool is_id_segment(std::string_view segment);

// Python's urllib.parse.urlencode of `params` (in name order): "a=1&b=x+y",
// with quote_plus's encoding (letters, digits and "_.-~" as they are, space
// as '+', every other byte as %XX).
std::string urlencode(const QueryParams& params);

// The compact JSON object of `params` in name order, values as strings; "{}"
// when empty. Names in `leave_out` are left out.
std::string query_params_json(const QueryParams& params,
                              const std::vector<std::string>& leave_out = {});

}  // namespace genalytics
