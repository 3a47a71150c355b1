// Small builders of valid generation events for tests.
#pragma once

#include <string>

#include "event/generation_event.h"
#include "event/uuid.h"

namespace genalytics::testing {

inline GenerationEvent make_event(GenerationEventType type, int64_t timestamp_us,
                                  const std::string& user_id = "") {
  GenerationEvent e;
  e.event_id = random_uuid();
  e.generation_id = random_uuid();
  e.event_type = type;
  e.timestamp_us = timestamp_us;
  if (!user_id.empty()) e.user_id = user_id;
  return e;
}

inline GenerationEvent make_completion(int64_t timestamp_us, bool success, int64_t duration_ms,
                                       const std::string& user_id = "",
                                       const std::string& model = "",
                                       const std::string& error_type = "") {
  GenerationEvent e = make_event(GenerationEventType::kCompletion, timestamp_us, user_id);
  e.success = success;
  e.duration_ms = duration_ms;
  if (!model.empty()) e.model_checkpoint = model;
  if (!success && !error_type.empty()) {
    e.error_type = error_type;
    e.error_message = error_type + " happened";
  }
  return e;
}

}  // namespace genalytics::testing
