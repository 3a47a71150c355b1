#include "event/stream_fields.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>

#include "event/time.h"

namespace genalytics {
namespace {

namespace json = boost::json;

enum class FieldKind : uint8_t { kText, kInteger, kBoolean, kObject };

constexpr std::pair<std::string_view, FieldKind> kTypedFields[] = {
    {"duration_ms", FieldKind::kInteger},
    {"success", FieldKind::kBoolean},
    {"queue_wait_time_ms", FieldKind::kInteger},
    {"generation_time_ms", FieldKind::kInteger},
    {"image_dimensions", FieldKind::kObject},
    {"batch_size", FieldKind::kInteger},
    {"prompt_tokens", FieldKind::kInteger},
    {"costs", FieldKind::kObject},
    {"tokens", FieldKind::kObject},
    {"params", FieldKind::kObject},
    {"attributes", FieldKind::kObject},
    {"retry_count", FieldKind::kInteger},
    {"gpu_memory_mb", FieldKind::kInteger},
    {"queue_length", FieldKind::kInteger},
};

constexpr std::string_view kJsonField = "json";
constexpr std::string_view kNotObjectText = "must be JSON text of an object";

FieldKind kind_of(std::string_view name) {
  for (const auto& [field, kind] : kTypedFields) {
    if (name == field) return kind;
  }
  return FieldKind::kText;
}

// The JSON number written in `text` (nothing else, no surrounding space), or
// nullopt. Out-of-range integers come out as uint64 or double, which the
// decoder reports as too large.
std::optional<json::value> parse_number(std::string_view text, const json::storage_ptr& storage) {
  const std::string_view digits = text.starts_with('-') ? text.substr(1) : text;
  if (digits.empty() || !std::isdigit(static_cast<unsigned char>(digits.front())) ||
      !std::isdigit(static_cast<unsigned char>(text.back()))) {
    return std::nullopt;
  }
  // The common case, a plain integer, without a parser.
  int64_t integer = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), integer);
  if (error == std::errc() && end == text.data() + text.size() &&
      (digits.size() == 1 || digits.front() != '0')) {
    return json::value(integer, storage);
  }
  json::error_code parse_error;
  json::value number = json::parse(text, parse_error, storage);
  if (parse_error || !number.is_number()) return std::nullopt;
  return number;
}

// The object written in `text`, or nullopt.
std::optional<json::object> parse_object(std::string_view text, const json::storage_ptr& storage) {
  json::error_code error;
  json::value value = json::parse(text, error, storage);
  if (error || !value.is_object()) return std::nullopt;
  return std::move(value.get_object());
}

void put(std::vector<std::pair<std::string, std::string>>* fields, std::string_view name,
         std::string value) {
  fields->emplace_back(name, std::move(value));
}

template <typename T>
void put_optional(std::vector<std::pair<std::string, std::string>>* fields, std::string_view name,
                  const std::optional<T>& value) {
  if (!value) return;
  if constexpr (std::is_same_v<T, std::string>) {
    put(fields, name, *value);
  } else if constexpr (std::is_same_v<T, bool>) {
    put(fields, name, *value ? "true" : "false");
  } else {
    put(fields, name, std::to_string(*value));
  }
}

}  // namespace

json::object fields_to_json(std::span<const StreamField> fields, std::vector<FieldError>* errors,
                            const json::storage_ptr& storage) {
  const auto whole = std::find_if(fields.rbegin(), fields.rend(),
                                  [](const StreamField& f) { return f.first == kJsonField; });
  if (whole != fields.rend()) {
    if (std::optional<json::object> object = parse_object(whole->second, storage)) {
      return std::move(*object);
    }
    errors->push_back({"/json", std::string(kNotObjectText)});
    return json::object(storage);
  }

  json::object object(storage);
  object.reserve(fields.size());
  for (const auto& [name, text] : fields) {
    switch (kind_of(name)) {
      case FieldKind::kText:
        object[name] = text;
        break;
      case FieldKind::kInteger:
        if (std::optional<json::value> number = parse_number(text, storage)) {
          object[name] = std::move(*number);
        } else {
          object[name] = text;
        }
        break;
      case FieldKind::kBoolean:
        if (text == "true" || text == "false") {
          object[name] = text == "true";
        } else {
          object[name] = text;
        }
        break;
      case FieldKind::kObject:
        if (std::optional<json::object> nested = parse_object(text, storage)) {
          object[name] = std::move(*nested);
        } else {
          object.erase(name);  // an earlier, valid value of the field does not count either
          errors->push_back({"/" + std::string(name), std::string(kNotObjectText)});
        }
        break;
    }
  }
  return object;
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
