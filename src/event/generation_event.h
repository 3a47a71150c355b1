// A generation event: one step in the life of one generation job (seed 000,
// "Generation Events Table", plus the extras of DESIGN.md "Event contract").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace genalytics {

enum class GenerationEventType : uint8_t { kRequest, kStart, kCompletion, kCancellation };

// The wire name ("request", "start", "completion", "cancellation").
std::string_view to_string(GenerationEventType type);

// Returns the type named `name`, or nullopt for any other string.
std::optional<GenerationEventType> parse_generation_event_type(std::string_view name);

// A validated event. UUIDs are canonical (lowercase, hyphenated). Nested
// objects are kept as compact JSON text, exactly as they are stored, their
// numbers canonical (json_writer.h's canonical_number: 1.0 is 1, 1e5 is
// 100000, 0.30000000000000004 is 0.3), so that the text decodes to itself.
struct GenerationEvent {
  std::string event_id;  // idempotency key
  GenerationEventType event_type = GenerationEventType::kRequest;
  std::string generation_id;
  std::optional<std::string> user_id;
  int64_t timestamp_us = 0;  // microseconds since the Unix epoch, UTC
  std::optional<std::string> generation_type;
  std::optional<int64_t> duration_ms;
  std::optional<bool> success;
  std::optional<std::string> error_type;
  std::optional<std::string> error_message;
  std::optional<int64_t> queue_wait_time_ms;
  std::optional<int64_t> generation_time_ms;
  std::optional<std::string> model_checkpoint;
  std::optional<std::string> image_dimensions_json;
  std::optional<int64_t> batch_size;
  std::optional<int64_t> prompt_tokens;
  std::optional<std::string> costs_json;
  std::optional<std::string> tokens_json;
  std::optional<std::string> params_json;
  std::optional<std::string> attributes_json;
  std::optional<int64_t> retry_count;
  std::optional<int64_t> gpu_memory_mb;
  std::optional<int64_t> queue_length;

  bool is_completion() const { return event_type == GenerationEventType::kCompletion; }
  bool is_successful_completion() const { return is_completion() && success.value_or(false); }
  bool is_failed_completion() const { return is_completion() && success.has_value() && !*success; }
};

}  // namespace genalytics
