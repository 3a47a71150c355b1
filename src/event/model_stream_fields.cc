#include "event/model_stream_fields.h"

#include <cstdint>
#include <optional>

#include "event/flat_fields.h"
#include "event/time.h"

namespace genalytics {
namespace {

// The fields of a model event that are not text.
constexpr FlatFieldType kModelFlatFields[] = {
    {"duration_ms", FlatFieldKind::kInteger},
    {"success", FlatFieldKind::kBoolean},
    {"size_bytes", FlatFieldKind::kInteger},
    {"gpu_memory_mb", FlatFieldKind::kInteger},
};

using Fields = std::vector<std::pair<std::string, std::string>>;

}  // namespace

boost::json::object model_fields_to_json(std::span<const StreamField> fields,
                                         std::vector<FieldError>* errors,
                                         const boost::json::storage_ptr& storage) {
  return flat_fields_to_json(fields, kModelFlatFields, errors, storage);
}

Fields to_stream_fields(const ModelEvent& event) {
  Fields fields;
  fields.reserve(14);
  fields.emplace_back("event_id", event.event_id);
  fields.emplace_back("event_type", to_string(event.event_type));
  fields.emplace_back("model_id", event.model_id);
  fields.emplace_back("timestamp", format_rfc3339_micros(event.timestamp_us));
  put_optional(&fields, "duration_ms", event.duration_ms);
  put_optional(&fields, "success", event.success);
  put_optional(&fields, "error_type", event.error_type);
  put_optional(&fields, "error_message", event.error_message);
  put_optional(&fields, "size_bytes", event.size_bytes);
  put_optional(&fields, "gpu_memory_mb", event.gpu_memory_mb);
  put_optional(&fields, "model_kind", event.model_kind);
  put_optional(&fields, "base_model", event.base_model);
  put_optional(&fields, "reason", event.reason);
  put_optional(&fields, "worker_id", event.worker_id);
  return fields;
}

}  // namespace genalytics
