#include "event/model_event.h"

#include "event/json_fields.h"

namespace genalytics {

std::string_view to_string(ModelEventType type) {
  switch (type) {
    case ModelEventType::kLoad:
      return "model_load";
    case ModelEventType::kUnload:
      return "model_unload";
    case ModelEventType::kDownload:
      return "model_download";
    case ModelEventType::kHealthCheck:
      return "model_health_check";
  }
  return "unknown";
}

std::optional<ModelEventType> parse_model_event_type(std::string_view name) {
  for (auto type : {ModelEventType::kLoad, ModelEventType::kUnload, ModelEventType::kDownload,
                    ModelEventType::kHealthCheck}) {
    if (name == to_string(type)) return type;
  }
  return std::nullopt;
}

bool is_model_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxModelIdLength || !is_utf8(id)) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const auto byte = static_cast<unsigned char>(id[i]);
    if (byte < 0x20 || byte == 0x7f) return false;
    // U+0080..U+009F are 0xC2 0x80..0x9F in UTF-8.
    if (byte == 0xc2 && i + 1 < id.size() && static_cast<unsigned char>(id[i + 1]) <= 0x9f) {
      return false;
    }
  }
  return true;
}

}  // namespace genalytics
