#include "event/query_params_json.h"

#include <boost/json.hpp>

namespace genalytics {

std::optional<QueryParams> parse_query_params_json(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) return std::nullopt;
  QueryParams params;
  for (const auto& member : value.get_object()) {
    const boost::json::value& v = member.value();
    params.insert_or_assign(std::string(member.key()),
                            v.is_string() ? std::string(v.get_string()) : boost::json::serialize(v));
  }
  return params;
}

}  // namespace genalytics
