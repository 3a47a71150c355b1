// Fuzzes the parsing of a request target as the API server does it
// (src/server/api.cc): Boost.URL's parse_origin_form, the path and the
// decoded query parameters, then the parameters the analytics endpoints read
// (the window, `n`, `limit`, `min_requests`, `min_latency`); and the route
// normaliser's own query-string parser on the same query.
// Input: the request target as sent ("/api/v1/...?days=7&n=10").
// Invariants: nothing but InvalidArgument escapes the parameter parsing;
// parsed integers and numbers are within their bounds; the normaliser's
// parameters of a printable query re-encode (urlencode) to a query that
// parses back to them.
#include <boost/url/parse.hpp>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "analytics/window.h"
#include "event/route_normalizer.h"
#include "fuzz_support.h"

namespace {

using genalytics::fuzz::check;

std::optional<std::string> get(const genalytics::QueryParams& params, const std::string& name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

void check_api_parameters(const genalytics::QueryParams& params) {
  try {
    genalytics::resolve_window({get(params, "days"), get(params, "start"), get(params, "end")},
                               genalytics::fuzz::kFuzzNowUs);
  } catch (const genalytics::InvalidArgument&) {
  }
  try {
    const int limit =
        genalytics::parse_int_parameter("limit", get(params, "limit").value_or("20"), 1, 10'000);
    check(limit >= 1 && limit <= 10'000, "an integer parameter out of its bounds");
  } catch (const genalytics::InvalidArgument&) {
  }
  for (const char* name : {"min_requests", "min_latency"}) {
    auto text = get(params, name);
    if (!text) continue;
    try {
      const double value = genalytics::parse_number_parameter(name, *text);
      check(std::isfinite(value) && value >= 0, "a number parameter out of its bounds");
    } catch (const genalytics::InvalidArgument&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view target = genalytics::fuzz::as_text(data, size);

  auto url = boost::urls::parse_origin_form(target);
  if (url) {
    const std::string path = url->path();
    check(!path.empty() && path.front() == '/', "an origin-form target without its leading '/'");
    genalytics::QueryParams params;
    for (auto param : url->params()) params[param.key] = param.value;
    check_api_parameters(params);
  }

  const genalytics::SplitUrl split = genalytics::split_url(target);
  genalytics::QueryParams params;
  // A query as HTTP carries it (printable ASCII): bytes that are not UTF-8
  // are kept as sent, so a raw one would come back percent-encoded.
  const bool printable = std::all_of(split.query.begin(), split.query.end(),
                                     [](char c) { return c > 0x20 && c < 0x7f; });
  if (printable && genalytics::parse_query_string(split.query, &params)) {
    genalytics::QueryParams again;
    check(genalytics::parse_query_string(genalytics::urlencode(params), &again),
          "urlencode gives a query that does not parse");
    check(again == params, "urlencode does not round-trip through parse_query_string");
  }
  return 0;
}
