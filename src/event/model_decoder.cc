#include "event/model_decoder.h"

#include <array>
#include <optional>
#include <string>
#include <utility>

#include "event/field_validator.h"
#include "event/json_body.h"
#include "event/json_fields.h"
#include "event/time.h"

namespace genalytics {
namespace {

namespace json = boost::json;

// The fields of an event in the order they are checked, which is the order of
// ModelEvent's members; errors come out in this order.
enum class Field : uint8_t {
  kEventId,
  kEventType,
  kModelId,
  kTimestamp,
  kDurationMs,
  kSuccess,
  kErrorType,
  kErrorMessage,
  kSizeBytes,
  kGpuMemoryMb,
  kModelKind,
  kBaseModel,
  kReason,
  kWorkerId,
};
constexpr size_t kFieldCount = static_cast<size_t>(Field::kWorkerId) + 1;

// The JSON pointer of each field, indexed by Field; the wire name follows the '/'.
constexpr std::array<std::string_view, kFieldCount> kFieldPointers = {
    "/event_id",   "/event_type", "/model_id",      "/timestamp",  "/duration_ms",
    "/success",    "/error_type", "/error_message", "/size_bytes", "/gpu_memory_mb",
    "/model_kind", "/base_model", "/reason",        "/worker_id",
};

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

// Validates the members of one event object and collects every problem.
class ModelValidator : public FieldValidator<Field, kFieldCount> {
 public:
  ModelValidator(const json::object& object, const DecodeLimits& limits,
                 std::vector<FieldError>* errors)
      : FieldValidator(object, limits, errors, kFieldPointers, field_index) {}

  // Returns false when the type is missing or unknown.
  bool read_event_type(ModelEventType* type) {
    const json::value* value = find(Field::kEventType);
    if (value == nullptr) {
      fail(Field::kEventType, "is required");
      return false;
    }
    std::optional<ModelEventType> parsed;
    if (value->is_string()) parsed = parse_model_event_type(view(value->get_string()));
    if (!parsed) {
      fail(Field::kEventType,
           "must be one of model_load, model_unload, model_download, model_health_check");
      return false;
    }
    *type = *parsed;
    return true;
  }

  // An id (model_id, worker_id, base_model) of at most kMaxModelIdLength
  // bytes without control characters; empty ones only when `allow_empty`.
  void read_id(Field field, bool allow_empty, std::optional<std::string>* out) {
    const json::value* value = find(field);
    if (value == nullptr) return;
    if (!value->is_string()) return fail(field, "must be a string");
    const std::string_view text = view(value->get_string());
    if (text.empty() && !allow_empty) return fail(field, "must not be empty");
    if (text.size() > kMaxModelIdLength) {
      return fail(field, "must be at most " + std::to_string(kMaxModelIdLength) + " bytes");
    }
    // The parser has checked UTF-8; is_model_id then only refuses control
    // characters.
    if (!text.empty() && !is_model_id(text))
      return fail(field, "must not contain control characters");
    out->emplace(text);
  }

  void read_required_id(Field field, std::string* out) {
    if (find(field) == nullptr) return fail(field, "is required");
    std::optional<std::string> id;
    read_id(field, false, &id);
    if (id) *out = std::move(*id);
  }

  void read_success(std::optional<bool>* success) {
    const json::value* value = find(Field::kSuccess);
    if (value == nullptr) return;
    if (!value->is_bool()) return fail(Field::kSuccess, "must be a boolean");
    *success = value->get_bool();
  }

  // `type` is nullopt when the event type was not valid.
  void read_reason(std::optional<ModelEventType> type, std::optional<std::string>* out) {
    if (find(Field::kReason) == nullptr) return;
    if (type && *type != ModelEventType::kUnload) {
      return fail(Field::kReason, "is only allowed on model_unload events");
    }
    read_choice(Field::kReason, kUnloadReasons, out);
  }
};

}  // namespace

bool decode_model_event(const json::value& value, int64_t now_us, const DecodeLimits& limits,
                        ModelEvent* event, std::vector<FieldError>* errors) {
  const json::object* object = value.if_object();
  if (object == nullptr) {
    errors->push_back({"", "must be a JSON object"});
    return false;
  }
  const size_t errors_before = errors->size();
  ModelValidator validator(*object, limits, errors);
  *event = ModelEvent();
  const bool id_sent = validator.find(Field::kEventId) != nullptr;
  validator.read_uuid(Field::kEventId, &event->event_id);
  const bool type_known = validator.read_event_type(&event->event_type);
  validator.read_required_id(Field::kModelId, &event->model_id);
  validator.read_timestamp(Field::kTimestamp, now_us, &event->timestamp_us);
  validator.read_integer(Field::kDurationMs, 0, &event->duration_ms);
  validator.read_success(&event->success);
  validator.read_string(Field::kErrorType, &event->error_type);
  validator.read_error_message(Field::kErrorMessage, &event->error_message);
  validator.read_integer(Field::kSizeBytes, 0, &event->size_bytes, kMaxModelSizeBytes);
  validator.read_integer(Field::kGpuMemoryMb, 0, &event->gpu_memory_mb);
  validator.read_choice(Field::kModelKind, kModelKinds, &event->model_kind);
  validator.read_id(Field::kBaseModel, false, &event->base_model);
  validator.read_reason(type_known ? std::optional(event->event_type) : std::nullopt,
                        &event->reason);
  validator.read_id(Field::kWorkerId, true, &event->worker_id);
  if (errors->size() != errors_before) return false;
  if (!id_sent) {
    event->event_id =
        derived_event_id("model", to_json(*event), validator.find(Field::kTimestamp) != nullptr);
  }
  return true;
}

DecodedModelBatch decode_model_body(std::string_view body, bool ndjson, int64_t now_us,
                                    const DecodeLimits& limits) {
  DecodedModelBatch batch;
  VectorEventCollector collector(&batch.events, [&](const json::value& value, ModelEvent* event,
                                                    std::vector<FieldError>* errors) {
    return decode_model_event(value, now_us, limits, event, errors);
  });
  batch.rejected = decode_json_body(body, ndjson, limits, &collector);
  return batch;
}

json::object to_json(const ModelEvent& event) {
  json::object object;
  object.reserve(kFieldCount);
  object.emplace(wire_name(Field::kEventId), event.event_id);
  object.emplace(wire_name(Field::kEventType), to_string(event.event_type));
  object.emplace(wire_name(Field::kModelId), event.model_id);
  object.emplace(wire_name(Field::kTimestamp), format_rfc3339_micros(event.timestamp_us));
  put_optional(&object, wire_name(Field::kDurationMs), event.duration_ms);
  put_optional(&object, wire_name(Field::kSuccess), event.success);
  put_optional(&object, wire_name(Field::kErrorType), event.error_type);
  put_optional(&object, wire_name(Field::kErrorMessage), event.error_message);
  put_optional(&object, wire_name(Field::kSizeBytes), event.size_bytes);
  put_optional(&object, wire_name(Field::kGpuMemoryMb), event.gpu_memory_mb);
  put_optional(&object, wire_name(Field::kModelKind), event.model_kind);
  put_optional(&object, wire_name(Field::kBaseModel), event.base_model);
  put_optional(&object, wire_name(Field::kReason), event.reason);
  put_optional(&object, wire_name(Field::kWorkerId), event.worker_id);
  return object;
}

}  // namespace genalytics
