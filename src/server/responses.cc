#include "server/responses.h"

#include <spdlog/spdlog.h>

#include "analytics/errors.h"
#include "event/json_writer.h"
#include "pipeline/redis_client.h"
#include "store/store.h"

namespace genalytics {
namespace http = boost::beast::http;

HttpResponse json_response(http::status status, const boost::json::value& body, unsigned version,
                           bool keep_alive) {
  HttpResponse response(status, version);
  response.set(http::field::content_type, "application/json");
  response.keep_alive(keep_alive);
  response.body() = serialize_json(body);
  return response;
}

HttpResponse error_response(http::status status, std::string_view code, std::string_view message,
                            unsigned version, bool keep_alive) {
  boost::json::object error{{"code", code}, {"message", message}};
  HttpResponse response =
      json_response(status, boost::json::object{{"error", std::move(error)}}, version, keep_alive);
  if (status == http::status::service_unavailable) response.set(http::field::retry_after, "1");
  return response;
}

HttpResponse current_exception_response(unsigned version, bool keep_alive) {
  try {
    throw;
  } catch (const InvalidArgument& error) {
    return error_response(http::status::bad_request, "invalid_parameter", error.what(), version,
                          keep_alive);
  } catch (const NotFound& error) {
    return error_response(http::status::not_found, "not_found", error.what(), version, keep_alive);
  } catch (const RedisError& error) {
    spdlog::error("redis error: {}", error.what());
    return error_response(http::status::service_unavailable, "redis_unavailable", error.what(),
                          version, keep_alive);
  } catch (const StoreError& error) {
    spdlog::error("store error ({}): {}", to_string(error.failure()), error.what());
    switch (error.failure()) {
      case StoreFailure::kUnavailable:
        return error_response(http::status::service_unavailable, "store_unavailable",
                              error.what(), version, keep_alive);
      // Retrying cannot help, so not 503; the store's message stays in the log.
      case StoreFailure::kCorrupt:
        return error_response(http::status::internal_server_error, "store_corrupt",
                              "stored data cannot be read", version, keep_alive);
      case StoreFailure::kInvalid:
        return error_response(http::status::internal_server_error, "store_invalid",
                              "the store refused the data", version, keep_alive);
    }
    return error_response(http::status::internal_server_error, "internal", "internal error",
                          version, keep_alive);
  } catch (const std::exception& error) {
    spdlog::error("internal error: {}", error.what());
    return error_response(http::status::internal_server_error, "internal", "internal error",
                          version, keep_alive);
  }
}

}  // namespace genalytics
