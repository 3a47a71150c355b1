// Fuzzes route normalisation (seed 002's query parameter handling): the split
// of a called URL, the query-string parser, id templating and the JSON of the
// parameters, as the route decoder and the recording proxy run them.
// Input: a route as called ("/api/v1/content/12345?page=2&sort=new").
// Invariants: templating is idempotent and leaves no id segment; route_full
// is the path, then '?' and urlencode(params) when there are parameters; the
// parameters' JSON (of UTF-8 input) parses as an object holding every
// parameter, and the normalised one holds none of the variable parameters.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "event/route_normalizer.h"
#include "fuzz_support.h"

namespace {

using genalytics::fuzz::check;

boost::json::object parse_object(const std::string& text) {
  boost::json::error_code error;
  boost::json::value value = boost::json::parse(text, error);
  check(!error && value.is_object(), "query parameters' JSON is not a JSON object");
  return std::move(value.as_object());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view url = genalytics::fuzz::as_text(data, size);
  const genalytics::SplitUrl split = genalytics::split_url(url);
  check(split.path.size() + split.query.size() <= url.size(), "split_url grew the URL");
  genalytics::QueryParams params;
  genalytics::parse_query_string(split.query, &params);

  const std::string templated = genalytics::template_path(split.path);
  check(genalytics::template_path(templated) == templated, "templating is not idempotent");
  for (std::string_view segment : genalytics::fuzz::split(templated, '/')) {
    check(!genalytics::is_id_segment(segment), "a templated path keeps an id segment");
  }

  for (bool template_ids : {true, false}) {
    genalytics::RouteNormalization normalization;
    normalization.template_ids = template_ids;
    const genalytics::NormalizedRoute normalized =
        genalytics::normalize_route(split.path, params, normalization);
    check(normalized.route == (template_ids ? templated : std::string(split.path)),
          "the route is not the (templated) path");
    const std::string expected_full =
        params.empty() ? std::string(split.path)
                       : std::string(split.path) + "?" + genalytics::urlencode(params);
    check(normalized.route_full == expected_full, "route_full is not the path and its parameters");
    if (!genalytics::fuzz::is_utf8(url)) continue;
    const boost::json::object all = parse_object(normalized.query_params_json);
    check(all.size() == params.size(), "query_params lost a parameter");
    const boost::json::object kept = parse_object(normalized.query_params_normalized_json);
    for (const std::string& name : normalization.variable_params) {
      check(!kept.contains(name), "a variable parameter is in query_params_normalized");
    }
  }
  return 0;
}
