// JSON responses, and the one place where errors become HTTP statuses.
#pragma once

#include <boost/json/value.hpp>
#include <string_view>

#include "server/http_server.h"

namespace genalytics {

// `body` as serialize_json writes it (decimals as people and Python read
// them), with Content-Type application/json.
HttpResponse json_response(boost::beast::http::status status, const boost::json::value& body,
                           unsigned version, bool keep_alive);

// {"error": {"code": code, "message": message}}. A 503 carries Retry-After.
HttpResponse error_response(boost::beast::http::status status, std::string_view code,
                            std::string_view message, unsigned version, bool keep_alive);

// Maps the exception being handled to its response: InvalidArgument -> 400,
// NotFound -> 404,
// RedisError and an unavailable StoreError -> 503; a corrupt or invalid
// StoreError -> 500 "store_corrupt" / "store_invalid" (its message only in the
// log); anything else -> 500. Call only inside a catch block.
HttpResponse current_exception_response(unsigned version, bool keep_alive);

}  // namespace genalytics
