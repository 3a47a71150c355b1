#include "event/stream_fields.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>

#include "event/flat_fields.h"
#include "event/time.h"

namespace genalytics {
namespace {

namespace json = boost::json;

// The fields of the generation contract that are not text.
constexpr FlatFieldType kGenerationFlatFields[] = {
    {"duration_ms", FlatFieldKind::kInteger},   {"success", FlatFieldKind::kBoolean},
    {"queue_wait_time_ms", FlatFieldKind::kInteger},
    {"generation_time_ms", FlatFieldKind::kInteger},
    {"image_dimensions", FlatFieldKind::kObject}, {"batch_size", FlatFieldKind::kInteger},
    {"prompt_tokens", FlatFieldKind::kInteger}, {"costs", FlatFieldKind::kObject},
    {"tokens", FlatFieldKind::kObject},         {"params", FlatFieldKind::kObject},
    {"attributes", FlatFieldKind::kObject},     {"retry_count", FlatFieldKind::kInteger},
    {"gpu_memory_mb", FlatFieldKind::kInteger}, {"queue_length", FlatFieldKind::kInteger},
};

void put(std::vector<std::pair<std::string, std::string>>* fields, std::string_view name,
         std::string value) {
  fields->emplace_back(name, std::move(value));
}

}  // namespace

json::object fields_to_json(std::span<const StreamField> fields, std::vector<FieldError>* errors,
                            const json::storage_ptr& storage) {
  return flat_fields_to_json(fields, kGenerationFlatFields, errors, storage);
}

std::vector<std::pair<std::string, std::string>> to_stream_fields(const GenerationEvent& event) {
  std::vector<std::pair<std::string, std::string>> fields;
  fields.reserve(24);
  put(&fields, "event_id", event.event_id);
  put(&fields, "event_type", std::string(to_string(event.event_type)));
  put(&fields, "generation_id", event.generation_id);
  put_optional(&fields, "user_id", event.user_id);
  put(&fields, "timestamp", format_rfc3339_micros(event.timestamp_us));
  put_optional(&fields, "generation_type", event.generation_type);
  put_optional(&fields, "duration_ms", event.duration_ms);
  put_optional(&fields, "success", event.success);
  put_optional(&fields, "error_type", event.error_type);
  put_optional(&fields, "error_message", event.error_message);
  put_optional(&fields, "queue_wait_time_ms", event.queue_wait_time_ms);
  put_optional(&fields, "generation_time_ms", event.generation_time_ms);
  put_optional(&fields, "model_checkpoint", event.model_checkpoint);
  put_optional(&fields, "image_dimensions", event.image_dimensions_json);
  put_optional(&fields, "batch_size", event.batch_size);
  put_optional(&fields, "prompt_tokens", event.prompt_tokens);
  put_optional(&fields, "costs", event.costs_json);
  put_optional(&fields, "tokens", event.tokens_json);
  put_optional(&fields, "params", event.params_json);
  put_optional(&fields, "attributes", event.attributes_json);
  put_optional(&fields, "retry_count", event.retry_count);
  put_optional(&fields, "gpu_memory_mb", event.gpu_memory_mb);
  put_optional(&fields, "queue_length", event.queue_length);
  return fields;
}

}  // namespace genalytics
