// Fixed ids, the event kinds by name, and small builders of valid generation
// events for tests.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "event/event_batch.h"
#include "event/generation_event.h"
#include "event/uuid.h"

namespace genalytics::testing {

// Canonical UUIDs for the events tests write out by hand.
inline constexpr std::string_view kUserId = "550e8400-e29b-41d4-a716-446655440000";
inline constexpr std::string_view kEventId = "0b0e5cf2-6f0a-4b35-9a3e-1c9a3c1f6d10";
inline constexpr std::string_view kGenerationId = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

// The id of test user `n` >= 0: 00000000-0000-4000-8000- and `n` in 12 digits.
inline std::string user_id(int n) {
  char text[40];
  std::snprintf(text, sizeof text, "00000000-0000-4000-8000-%012d", n);
  return text;
}

inline constexpr EventKind kGeneration = event_kind<GenerationKind>();
inline constexpr EventKind kRoute = event_kind<RouteKind>();

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
