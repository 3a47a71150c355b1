// Over 400 lines: the decoder of every field of seed 000's event, one
// function per field group in one class that shares the error list.
#include "event/generation_decoder.h"

#include <array>
#include <boost/json/parse.hpp>
#include <utility>

#include "event/json_body.h"
#include "event/field_validator.h"
#include "event/json_fields.h"
#include "event/json_writer.h"
#include "event/time.h"
#include "event/uuid.h"

namespace genalytics {
namespace {

namespace json = boost::json;

// The fields of an event in the order they are checked, which is the order of
// GenerationEvent's members; errors come out in this order.
enum class Field : uint8_t {
  kEventId,
  kEventType,
  kGenerationId,
  kUserId,
  kTimestamp,
  kGenerationType,
  kDurationMs,
  kSuccess,
  kErrorType,
  kErrorMessage,
  kQueueWaitTimeMs,
  kGenerationTimeMs,
  kModelCheckpoint,
  kImageDimensions,
  kBatchSize,
  kPromptTokens,
  kCosts,
  kTokens,
  kParams,
  kAttributes,
  kRetryCount,
  kGpuMemoryMb,
  kQueueLength,
};
constexpr size_t kFieldCount = static_cast<size_t>(Field::kQueueLength) + 1;

// The JSON pointer of each field, indexed by Field; the wire name follows the '/'.
constexpr std::array<std::string_view, kFieldCount> kFieldPointers = {
    "/event_id",
    "/event_type",
    "/generation_id",
    "/user_id",
    "/timestamp",
    "/generation_type",
    "/duration_ms",
    "/success",
    "/error_type",
    "/error_message",
    "/queue_wait_time_ms",
    "/generation_time_ms",
    "/model_checkpoint",
    "/image_dimensions",
    "/batch_size",
    "/prompt_tokens",
    "/costs",
    "/tokens",
    "/params",
    "/attributes",
    "/retry_count",
    "/gpu_memory_mb",
    "/queue_length",
};

constexpr std::string_view pointer_of(Field field) {
  return kFieldPointers[static_cast<size_t>(field)];
}

constexpr std::string_view wire_name(Field field) { return pointer_of(field).substr(1); }

constexpr size_t kMaxNameLength = 18;

// For each name length, the fields whose name has it (kFieldCount pads), so
// that matching a key costs a comparison or two instead of one per field.
constexpr auto kFieldsByNameLength = [] {
  std::array<std::array<size_t, 4>, kMaxNameLength + 1> fields{};
  for (auto& same_length : fields) same_length.fill(kFieldCount);
  for (size_t i = 0; i < kFieldCount; ++i) {
    auto& same_length = fields[wire_name(static_cast<Field>(i)).size()];
    size_t slot = 0;
    while (same_length[slot] != kFieldCount) ++slot;
    same_length[slot] = i;
  }
  return fields;
}();

// The index of the field named `key`, or kFieldCount when there is none.
size_t field_index(std::string_view key) {
  if (key.empty() || key.size() > kMaxNameLength) return kFieldCount;
  for (size_t i : kFieldsByNameLength[key.size()]) {
    if (i == kFieldCount) break;
    const std::string_view name = wire_name(static_cast<Field>(i));
    if (key[0] == name[0] && key == name) return i;
  }
  return kFieldCount;
}

std::string child_pointer(Field field, std::string_view token) {
  std::string pointer(pointer_of(field));
  append_pointer_token(&pointer, token);
  return pointer;
}

// Validates the members of one event object and collects every problem.
class EventValidator : public FieldValidator<Field, kFieldCount> {
 public:
  EventValidator(const json::object& object, const DecodeLimits& limits,
                 std::vector<FieldError>* errors)
      : FieldValidator(object, limits, errors, kFieldPointers, field_index) {}

  void read_required_uuid(Field field, std::string* id) {
    if (find(field) == nullptr) {
      fail(field, "is required");
    } else {
      read_uuid(field, id);
    }
  }

  // Returns false when the type is missing or unknown.
  bool read_event_type(GenerationEventType* type) {
    const json::value* value = find(Field::kEventType);
    if (value == nullptr) {
      fail(Field::kEventType, "is required");
      return false;
    }
    std::optional<GenerationEventType> parsed;
    if (value->is_string()) parsed = parse_generation_event_type(view(value->get_string()));
    if (!parsed) {
      fail(Field::kEventType, "must be one of request, start, completion, cancellation");
      return false;
    }
    *type = *parsed;
    return true;
  }

  void read_success(bool required, std::optional<bool>* success) {
    const json::value* value = find(Field::kSuccess);
    if (value == nullptr) {
      if (required) fail(Field::kSuccess, "is required for completion events");
    } else if (value->is_bool()) {
      *success = value->get_bool();
    } else {
      fail(Field::kSuccess, "must be a boolean");
    }
  }

  // The field's object, or nullptr (with an error unless it is absent).
  const json::object* find_object(Field field) {
    const json::value* value = find(field);
    if (value == nullptr) return nullptr;
    if (!value->is_object()) fail(field, "must be an object");
    return value->if_object();
  }

  // Reports the keys of `object` longer than max_string_length, once.
  // Returns false when there are any.
  bool check_keys(Field field, const json::object& object) {
    for (const json::key_value_pair& member : object) {
      if (too_long(member.key())) {
        fail(field, "keys " + too_long_message());
        return false;
      }
    }
    return true;
  }

  // Stores the field's object, if it fits max_object_bytes, as compact JSON
  // text with canonical numbers (json_writer.h): text that decodes again to
  // itself.
  void store_object(Field field, std::optional<std::string>* out) {
    std::optional<std::string> canonical = serialize_canonical_json(*find(field));
    if (!canonical) {  // the callers report such numbers first; never store without one
      fail(field, "is out of range");
      return;
    }
    std::string text = std::move(*canonical);
    if (text.size() > limits_.max_object_bytes) {
      fail(field, "must be at most " + std::to_string(limits_.max_object_bytes) + " bytes");
      return;
    }
    if (text.find("\\u0000") != std::string::npos) {
      fail(field, kNulMessage);
      return;
    }
    *out = std::move(text);
  }

  // Any object (image_dimensions, params). Its numbers must have a
  // canonical form: Boost.JSON parses 1e400 as infinity, which has no JSON
  // text.
  void read_object(Field field, std::optional<std::string>* out) {
    if (find_object(field) == nullptr) return;
    if (all_in_range(*find(field))) {
      store_object(field, out);
    } else {
      std::string pointer(pointer_of(field));
      report_out_of_range(*find(field), &pointer);
    }
  }

  // USD components: {"compute": 0.012, "storage": 0.001}.
  void read_costs(std::optional<std::string>* out) {
    const json::object* costs = find_object(Field::kCosts);
    if (costs == nullptr || !check_keys(Field::kCosts, *costs)) return;
    const size_t errors_before = errors_->size();
    for (const json::key_value_pair& member : *costs) {
      const json::value& value = member.value();
      const double amount = value.is_number() ? value.to_number<double>() : -1;
      if (!(amount >= 0)) {
        fail(child_pointer(Field::kCosts, member.key()), "must be a non-negative number");
      } else if (amount > kMaxCostUsd) {
        fail(child_pointer(Field::kCosts, member.key()),
             "must be at most " + std::to_string(static_cast<int64_t>(kMaxCostUsd)));
      }
    }
    if (errors_->size() == errors_before) store_object(Field::kCosts, out);
  }

  // {"input": N, "output": N}, stored with exactly these keys (others are
  // ignored) and integer values, so readers need not handle 5.0.
  void read_tokens(std::optional<std::string>* out) {
    const json::object* tokens = find_object(Field::kTokens);
    if (tokens == nullptr) return;
    constexpr std::pair<std::string_view, std::string_view> kCounts[] = {
        {"input", "/tokens/input"}, {"output", "/tokens/output"}};
    std::string text = "{";
    bool valid = true;
    for (const auto& [key, pointer] : kCounts) {
      const json::value* value = tokens->if_contains(key);
      if (value == nullptr || value->is_null()) continue;
      const std::optional<int64_t> count = read_integer(*value, 0, pointer);
      if (!count) {
        valid = false;
        continue;
      }
      if (text.size() > 1) text.push_back(',');
      text.append("\"").append(key).append("\":").append(std::to_string(*count));
    }
    text.push_back('}');
    if (valid) *out = std::move(text);
  }

  // Custom dimensions: {"style": "anime", "difficulty": 3, "beta": true}.
  void read_attributes(std::optional<std::string>* out) {
    const json::object* attributes = find_object(Field::kAttributes);
    if (attributes == nullptr || !check_keys(Field::kAttributes, *attributes)) return;
    const size_t errors_before = errors_->size();
    for (const json::key_value_pair& member : *attributes) {
      const json::value& value = member.value();
      if (value.is_string()) {
        if (too_long(view(value.get_string()))) {
          fail(child_pointer(Field::kAttributes, member.key()), too_long_message());
        }
      } else if (value.is_number() && !canonical_number(value)) {
        fail(child_pointer(Field::kAttributes, member.key()), "is out of range");
      } else if (!value.is_number() && !value.is_bool()) {
        fail(child_pointer(Field::kAttributes, member.key()),
             "must be a string, number or boolean");
      }
    }
    if (errors_->size() == errors_before) store_object(Field::kAttributes, out);
  }

 private:
  // Whether every number inside `value` has a canonical form.
  static bool all_in_range(const json::value& value) {
    if (value.is_number()) return canonical_number(value).has_value();
    if (const json::object* object = value.if_object()) {
      for (const json::key_value_pair& member : *object) {
        if (!all_in_range(member.value())) return false;
      }
    } else if (const json::array* array = value.if_array()) {
      for (const json::value& element : *array) {
        if (!all_in_range(element)) return false;
      }
    }
    return true;
  }

  // Reports every number inside `value` without a canonical form, which
  // `pointer` locates (restored on return).
  void report_out_of_range(const json::value& value, std::string* pointer) {
    const size_t length = pointer->size();
    if (value.is_number()) {
      if (!canonical_number(value)) fail(*pointer, "is out of range");
    } else if (const json::object* object = value.if_object()) {
      for (const json::key_value_pair& member : *object) {
        append_pointer_token(pointer, member.key());
        report_out_of_range(member.value(), pointer);
        pointer->resize(length);
      }
    } else if (const json::array* array = value.if_array()) {
      for (size_t i = 0; i < array->size(); ++i) {
        append_pointer_token(pointer, std::to_string(i));
        report_out_of_range((*array)[i], pointer);
        pointer->resize(length);
      }
    }
  }

};

// Nested objects are stored as JSON text; text that no longer parses as an
// object (not written by this decoder) is passed through as a string. The
// numbers are made canonical again: Boost.JSON may read their text an ulp
// away from the value the decoder kept.
void put_nested(json::object* object, Field field, const std::optional<std::string>& text) {
  if (!text) return;
  json::error_code error;
  json::value value = json::parse(*text, error);
  if (error || !value.is_object()) {
    value = *text;
  } else {
    canonicalize_numbers(&value);
  }
  object->emplace(wire_name(field), std::move(value));
}

}  // namespace

bool decode_generation_event(const json::value& value, int64_t now_us, const DecodeLimits& limits,
                             GenerationEvent* event, std::vector<FieldError>* errors) {
  const json::object* object = value.if_object();
  if (object == nullptr) {
    errors->push_back({"", "must be a JSON object"});
    return false;
  }
  const size_t errors_before = errors->size();
  EventValidator validator(*object, limits, errors);
  *event = GenerationEvent();
  const bool id_sent = validator.find(Field::kEventId) != nullptr;
  validator.read_uuid(Field::kEventId, &event->event_id);
  const bool type_known = validator.read_event_type(&event->event_type);
  validator.read_required_uuid(Field::kGenerationId, &event->generation_id);
  validator.read_uuid(Field::kUserId, &event->user_id);
  validator.read_timestamp(Field::kTimestamp, now_us, &event->timestamp_us);
  validator.read_string(Field::kGenerationType, &event->generation_type);
  validator.read_integer(Field::kDurationMs, 0, &event->duration_ms);
  validator.read_success(type_known && event->is_completion(), &event->success);
  validator.read_string(Field::kErrorType, &event->error_type);
  validator.read_error_message(Field::kErrorMessage, &event->error_message);
  validator.read_integer(Field::kQueueWaitTimeMs, 0, &event->queue_wait_time_ms);
  validator.read_integer(Field::kGenerationTimeMs, 0, &event->generation_time_ms);
  validator.read_string(Field::kModelCheckpoint, &event->model_checkpoint);
  validator.read_object(Field::kImageDimensions, &event->image_dimensions_json);
  validator.read_integer(Field::kBatchSize, 1, &event->batch_size);
  validator.read_integer(Field::kPromptTokens, 0, &event->prompt_tokens);
  validator.read_costs(&event->costs_json);
  validator.read_tokens(&event->tokens_json);
  validator.read_object(Field::kParams, &event->params_json);
  validator.read_attributes(&event->attributes_json);
  validator.read_integer(Field::kRetryCount, 0, &event->retry_count);
  validator.read_integer(Field::kGpuMemoryMb, 0, &event->gpu_memory_mb);
  validator.read_integer(Field::kQueueLength, 0, &event->queue_length);
  if (errors->size() != errors_before) return false;
  if (!id_sent) {
    event->event_id = derived_event_id("generation", to_json(*event),
                                       validator.find(Field::kTimestamp) != nullptr);
  }
  return true;
}

DecodedBatch decode_generation_body(std::string_view body, bool ndjson, int64_t now_us,
                                    const DecodeLimits& limits) {
  DecodedBatch batch;
  VectorEventCollector collector(
      &batch.events, [&](const json::value& value, GenerationEvent* event,
                         std::vector<FieldError>* errors) {
        return decode_generation_event(value, now_us, limits, event, errors);
      });
  batch.rejected = decode_json_body(body, ndjson, limits, &collector);
  return batch;
}

json::object to_json(const GenerationEvent& event) {
  json::object object;
  object.reserve(kFieldCount);
  object.emplace(wire_name(Field::kEventId), event.event_id);
  object.emplace(wire_name(Field::kEventType), to_string(event.event_type));
  object.emplace(wire_name(Field::kGenerationId), event.generation_id);
  put_optional(&object, wire_name(Field::kUserId), event.user_id);
  object.emplace(wire_name(Field::kTimestamp), format_rfc3339_micros(event.timestamp_us));
  put_optional(&object, wire_name(Field::kGenerationType), event.generation_type);
  put_optional(&object, wire_name(Field::kDurationMs), event.duration_ms);
  put_optional(&object, wire_name(Field::kSuccess), event.success);
  put_optional(&object, wire_name(Field::kErrorType), event.error_type);
  put_optional(&object, wire_name(Field::kErrorMessage), event.error_message);
  put_optional(&object, wire_name(Field::kQueueWaitTimeMs), event.queue_wait_time_ms);
  put_optional(&object, wire_name(Field::kGenerationTimeMs), event.generation_time_ms);
  put_optional(&object, wire_name(Field::kModelCheckpoint), event.model_checkpoint);
  put_nested(&object, Field::kImageDimensions, event.image_dimensions_json);
  put_optional(&object, wire_name(Field::kBatchSize), event.batch_size);
  put_optional(&object, wire_name(Field::kPromptTokens), event.prompt_tokens);
  put_nested(&object, Field::kCosts, event.costs_json);
  put_nested(&object, Field::kTokens, event.tokens_json);
  put_nested(&object, Field::kParams, event.params_json);
  put_nested(&object, Field::kAttributes, event.attributes_json);
  put_optional(&object, wire_name(Field::kRetryCount), event.retry_count);
  put_optional(&object, wire_name(Field::kGpuMemoryMb), event.gpu_memory_mb);
  put_optional(&object, wire_name(Field::kQueueLength), event.queue_length);
  return object;
}

}  // namespace genalytics
