#include "event/route_stream_fields.h"

#include <cstdint>
#include <optional>

#include "event/flat_fields.h"
#include "event/time.h"

namespace genalytics {
namespace {

// query_params_normalized is written for readers of the stream but not typed:
// the decoder derives it from query_params and ignores the field.
constexpr FlatFieldType kRouteFlatFields[] = {
    {"duration_ms", FlatFieldKind::kInteger},
    {"status_code", FlatFieldKind::kInteger},
    {"query_params", FlatFieldKind::kObject},
    {"request_size_bytes", FlatFieldKind::kInteger},
    {"response_size_bytes", FlatFieldKind::kInteger},
    {"db_query_count", FlatFieldKind::kInteger},
};

using Fields = std::vector<std::pair<std::string, std::string>>;

}  // namespace

boost::json::object route_fields_to_json(std::span<const StreamField> fields,
                                         std::vector<FieldError>* errors,
                                         const boost::json::storage_ptr& storage) {
  return flat_fields_to_json(fields, kRouteFlatFields, errors, storage);
}

Fields to_stream_fields(const RouteEvent& event) {
  Fields fields;
  fields.reserve(15);
  fields.emplace_back("event_id", event.event_id);
  fields.emplace_back("route", event.route);
  fields.emplace_back("route_full", event.route_full);
  fields.emplace_back("method", event.method);
  put_optional(&fields, "user_id", event.user_id);
  fields.emplace_back("timestamp", format_rfc3339_micros(event.timestamp_us));
  fields.emplace_back("duration_ms", std::to_string(event.duration_ms));
  fields.emplace_back("status_code", std::to_string(event.status_code));
  fields.emplace_back("query_params", event.query_params_json);
  fields.emplace_back("query_params_normalized", event.query_params_normalized_json);
  put_optional(&fields, "request_size_bytes", event.request_size_bytes);
  put_optional(&fields, "response_size_bytes", event.response_size_bytes);
  put_optional(&fields, "error_type", event.error_type);
  put_optional(&fields, "db_query_count", event.db_query_count);
  put_optional(&fields, "cache_status", event.cache_status);
  return fields;
}

}  // namespace genalytics
