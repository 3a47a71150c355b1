#include "event/generation_event.h"

namespace genalytics {

std::string_view to_string(GenerationEventType type) {
  switch (type) {
    case GenerationEventType::kRequest:
      return "request";
    case GenerationEventType::kStart:
      return "start";
    case GenerationEventType::kCompletion:
      return "completion";
    case GenerationEventType::kCancellation:
      return "cancellation";
  }
  return "unknown";
}

std::optional<GenerationEventType> parse_generation_event_type(std::string_view name) {
  for (auto type : {GenerationEventType::kRequest, GenerationEventType::kStart,
                    GenerationEventType::kCompletion, GenerationEventType::kCancellation}) {
    if (name == to_string(type)) return type;
  }
  return std::nullopt;
}

}  // namespace genalytics
