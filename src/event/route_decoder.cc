#include "event/route_decoder.h"

#include <array>
#include <boost/json/parse.hpp>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "event/json_body.h"
#include "event/field_validator.h"
#include "event/json_fields.h"
#include "event/time.h"
#include "event/uuid.h"

namespace genalytics {
namespace {

namespace json = boost::json;

// route_full is for reading (the parameters are in query_params): a longer
// one is cut on a UTF-8 boundary rather than refused, like error_message.
constexpr size_t kMaxRouteFullBytes = 8192;

constexpr std::string_view kMethods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                         "PATCH", "DELETE", "OPTIONS"};

// The values of cache_status (seed 002), stored in lower case.
constexpr std::string_view kCacheStatuses[] = {"hit", "miss", "bypass", "stale"};

// The fields of an event in the order they are checked, which is the order of
// RouteEvent's members; errors come out in this order.
enum class Field : uint8_t {
  kEventId,
  kRoute,
  kRouteFull,
  kMethod,
  kUserId,
  kTimestamp,
  kDurationMs,
  kStatusCode,
  kQueryParams,
  kRequestSizeBytes,
  kResponseSizeBytes,
  kErrorType,
  kDbQueryCount,
  kCacheStatus,
};
constexpr size_t kFieldCount = static_cast<size_t>(Field::kCacheStatus) + 1;

// The JSON pointer of each field, indexed by Field; the wire name follows the '/'.
constexpr std::array<std::string_view, kFieldCount> kFieldPointers = {
    "/event_id",
    "/route",
    "/route_full",
    "/method",
    "/user_id",
    "/timestamp",
    "/duration_ms",
    "/status_code",
    "/query_params",
    "/request_size_bytes",
    "/response_size_bytes",
    "/error_type",
    "/db_query_count",
    "/cache_status",
};

// Written by to_json, ignored by the decoder: it is derived from query_params.
constexpr std::string_view kQueryParamsNormalized = "query_params_normalized";

constexpr std::string_view pointer_of(Field field) {
  return kFieldPointers[static_cast<size_t>(field)];
}

constexpr std::string_view wire_name(Field field) { return pointer_of(field).substr(1); }

// The index of the field named `key`, or kFieldCount when there is none.
size_t field_index(std::string_view key) {
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (key == wire_name(static_cast<Field>(i))) return i;
  }
  return kFieldCount;
}

std::string child_pointer(Field field, std::string_view token) {
  std::string pointer(pointer_of(field));
  append_pointer_token(&pointer, token);
  return pointer;
}

// A finite number as query string text: integral values without a fraction
// ("5" for 5.0), others in their shortest round-trip form ("7.5", "1e+300").
std::string number_text(const json::value& number) {
  if (number.is_int64()) return std::to_string(number.get_int64());
  if (number.is_uint64()) return std::to_string(number.get_uint64());
  const double value = number.get_double();
  if (std::trunc(value) == value && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

// Validates the members of one event object and collects every problem.
class RouteValidator : public FieldValidator<Field, kFieldCount> {
 public:
  RouteValidator(const json::object& object, const DecodeLimits& limits,
                 std::vector<FieldError>* errors)
      : FieldValidator(object, limits, errors, kFieldPointers, field_index) {}

  // Splits the route into its path and the parameters of its query string.
  // Leaves both alone when the route is not valid.
  void read_route(std::string_view* path, QueryParams* params) {
    const json::value* value = find(Field::kRoute);
    if (value == nullptr) return fail(Field::kRoute, "is required");
    if (!value->is_string()) return fail(Field::kRoute, "must be a string");
    const std::string_view route = view(value->get_string());
    if (!route.starts_with('/')) return fail(Field::kRoute, "must start with '/'");
    if (too_long(route, kMaxRouteLength)) {
      return fail(Field::kRoute, too_long_message(kMaxRouteLength));
    }
    if (route.find('\0') != std::string_view::npos) return fail(Field::kRoute, kNulMessage);
    const SplitUrl split = split_url(route);
    QueryParams from_query;
    // "%00" in the query string.
    if (!parse_query_string(split.query, &from_query)) return fail(Field::kRoute, kNulMessage);
    *path = split.path;
    *params = std::move(from_query);
  }

  void read_route_full(std::optional<std::string>* out) {
    const json::value* value = find(Field::kRouteFull);
    if (value == nullptr) return;
    if (!value->is_string()) return fail(Field::kRouteFull, "must be a string");
    const std::string_view text = view(value->get_string());
    if (text.find('\0') != std::string_view::npos) return fail(Field::kRouteFull, kNulMessage);
    out->emplace(text);
  }

  void read_method(std::string* method) {
    const json::value* value = find(Field::kMethod);
    if (value == nullptr) return fail(Field::kMethod, "is required");
    std::optional<std::string_view> parsed;
    if (value->is_string()) parsed = find_ignoring_case(kMethods, view(value->get_string()));
    if (!parsed) return fail(Field::kMethod, "must be an HTTP method");
    *method = *parsed;
  }

  void read_required_integer(Field field, int64_t* out) {
    if (find(field) == nullptr) return fail(field, "is required");
    std::optional<int64_t> integer;
    read_integer(field, 0, &integer);
    if (integer) *out = *integer;
  }

  void read_status_code(int* status_code) {
    const json::value* value = find(Field::kStatusCode);
    if (value == nullptr) return fail(Field::kStatusCode, "is required");
    int64_t code = 0;
    if (check_integer(*value, 100, &code) != IntegerCheck::kOk || code > 599) {
      return fail(Field::kStatusCode, "must be an HTTP status code (100-599)");
    }
    *status_code = static_cast<int>(code);
  }

  // Returns false when query_params is not a valid object of strings, numbers
  // and booleans; `params` then holds an unspecified part of it.
  bool read_query_params(QueryParams* params) {
    const json::value* value = find(Field::kQueryParams);
    if (value == nullptr) return true;
    const json::object* object = value->if_object();
    if (object == nullptr) {
      fail(Field::kQueryParams, "must be an object");
      return false;
    }
    for (const json::key_value_pair& member : *object) {
      if (member.key().find('\0') != std::string_view::npos) {
        fail(Field::kQueryParams, "keys " + std::string(kNulMessage));
        return false;
      }
    }
    const size_t errors_before = errors_->size();
    for (const json::key_value_pair& member : *object) {
      const json::value& param = member.value();
      if (param.is_string()) {
        const std::string_view text = view(param.get_string());
        if (text.find('\0') != std::string_view::npos) {
          fail(child_pointer(Field::kQueryParams, member.key()), kNulMessage);
        } else {
          (*params)[std::string(member.key())] = text;
        }
      } else if (param.is_bool()) {
        (*params)[std::string(member.key())] = param.get_bool() ? "true" : "false";
      } else if (param.is_double() && !std::isfinite(param.get_double())) {
        fail(child_pointer(Field::kQueryParams, member.key()), "is out of range");
      } else if (param.is_number()) {
        (*params)[std::string(member.key())] = number_text(param);
      } else {
        fail(child_pointer(Field::kQueryParams, member.key()),
             "must be a string, number or boolean");
      }
    }
    return errors_->size() == errors_before;
  }

  // Fills the event's route fields from the route's path and all parameters;
  // fails when the parameters do not fit max_object_bytes.
  void normalize(std::string_view path, const QueryParams& params,
                 const RouteNormalization& normalization, RouteEvent* event) {
    NormalizedRoute normalized = normalize_route(path, params, normalization);
    // Templating lengthens short ids ("/1" -> "/{id}"): the stored route
    // must still be one a later decode accepts.
    if (too_long(normalized.route, kMaxRouteLength)) {
      return fail(Field::kRoute, too_long_message(kMaxRouteLength) + " once its ids are templated");
    }
    if (normalized.query_params_json.size() > limits_.max_object_bytes) {
      return fail(Field::kQueryParams,
                  "must be at most " + std::to_string(limits_.max_object_bytes) + " bytes");
    }
    event->route = std::move(normalized.route);
    event->route_full = truncate_utf8(normalized.route_full, kMaxRouteFullBytes);
    event->query_params_json = std::move(normalized.query_params_json);
    event->query_params_normalized_json = std::move(normalized.query_params_normalized_json);
  }
};

// query_params are stored as JSON text; text that no longer parses as an
// object (not written by this decoder) is passed through as a string.
void put_object(json::object* object, std::string_view name, const std::string& text) {
  json::error_code error;
  json::value value = json::parse(text, error);
  if (error || !value.is_object()) value = text;
  object->emplace(name, std::move(value));
}

}  // namespace

bool decode_route_event(const json::value& value, int64_t now_us, const DecodeLimits& limits,
                        const RouteNormalization& normalization, RouteEvent* event,
                        std::vector<FieldError>* errors) {
  const json::object* object = value.if_object();
  if (object == nullptr) {
    errors->push_back({"", "must be a JSON object"});
    return false;
  }
  const size_t errors_before = errors->size();
  RouteValidator validator(*object, limits, errors);
  *event = RouteEvent();
  const bool id_sent = validator.find(Field::kEventId) != nullptr;
  validator.read_uuid(Field::kEventId, &event->event_id);
  std::string_view path;
  QueryParams query_string_params;
  validator.read_route(&path, &query_string_params);
  std::optional<std::string> route_full;
  validator.read_route_full(&route_full);
  validator.read_method(&event->method);
  validator.read_uuid(Field::kUserId, &event->user_id);
  validator.read_timestamp(Field::kTimestamp, now_us, &event->timestamp_us);
  validator.read_required_integer(Field::kDurationMs, &event->duration_ms);
  validator.read_status_code(&event->status_code);
  QueryParams params;
  if (validator.read_query_params(&params)) {
    params.merge(query_string_params);  // adds the names query_params lacks
    validator.normalize(path, params, normalization, event);
  }
  if (route_full) event->route_full = truncate_utf8(*route_full, kMaxRouteFullBytes);
  validator.read_integer(Field::kRequestSizeBytes, 0, &event->request_size_bytes);
  validator.read_integer(Field::kResponseSizeBytes, 0, &event->response_size_bytes);
  validator.read_string(Field::kErrorType, &event->error_type);
  validator.read_integer(Field::kDbQueryCount, 0, &event->db_query_count);
  validator.read_choice(Field::kCacheStatus, kCacheStatuses, &event->cache_status);
  if (errors->size() != errors_before) return false;
  if (!id_sent) {
    event->event_id = derived_event_id("route", to_json(*event),
                                       validator.find(Field::kTimestamp) != nullptr);
  }
  return true;
}

DecodedRouteBatch decode_route_body(std::string_view body, bool ndjson, int64_t now_us,
                                    const DecodeLimits& limits,
                                    const RouteNormalization& normalization) {
  DecodedRouteBatch batch;
  VectorEventCollector collector(&batch.events, [&](const json::value& value, RouteEvent* event,
                                                    std::vector<FieldError>* errors) {
    return decode_route_event(value, now_us, limits, normalization, event, errors);
  });
  batch.rejected = decode_json_body(body, ndjson, limits, &collector);
  return batch;
}

json::object to_json(const RouteEvent& event) {
  json::object object;
  object.reserve(kFieldCount + 1);
  object.emplace(wire_name(Field::kEventId), event.event_id);
  object.emplace(wire_name(Field::kRoute), event.route);
  object.emplace(wire_name(Field::kRouteFull), event.route_full);
  object.emplace(wire_name(Field::kMethod), event.method);
  put_optional(&object, wire_name(Field::kUserId), event.user_id);
  object.emplace(wire_name(Field::kTimestamp), format_rfc3339_micros(event.timestamp_us));
  object.emplace(wire_name(Field::kDurationMs), event.duration_ms);
  object.emplace(wire_name(Field::kStatusCode), event.status_code);
  put_object(&object, wire_name(Field::kQueryParams), event.query_params_json);
  put_object(&object, kQueryParamsNormalized, event.query_params_normalized_json);
  put_optional(&object, wire_name(Field::kRequestSizeBytes), event.request_size_bytes);
  put_optional(&object, wire_name(Field::kResponseSizeBytes), event.response_size_bytes);
  put_optional(&object, wire_name(Field::kErrorType), event.error_type);
  put_optional(&object, wire_name(Field::kDbQueryCount), event.db_query_count);
  put_optional(&object, wire_name(Field::kCacheStatus), event.cache_status);
  return object;
}

}  // namespace genalytics
