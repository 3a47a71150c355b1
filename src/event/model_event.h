// A model lifecycle event (seed 003; issue 10): a checkpoint, LoRA, VAE or
// other model file loaded onto or unloaded from one GPU worker, downloaded,
// or health-checked. Usage itself comes from generation events
// (event/model_uses.h); these events say what the serving system did with
// its models, and never change generation metrics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace genalytics {

enum class ModelEventType : uint8_t { kLoad, kUnload, kDownload, kHealthCheck };

// The wire name: "model_load", "model_unload", "model_download",
// "model_health_check".
std::string_view to_string(ModelEventType type);

// The type named `name` (a wire name), or nullopt for any other string.
std::optional<ModelEventType> parse_model_event_type(std::string_view name);

// The values model_kind may take, and unload reasons.
inline constexpr std::string_view kModelKinds[] = {"checkpoint", "lora",      "vae",
                                                   "controlnet", "embedding", "other"};
inline constexpr std::string_view kUnloadReasons[] = {"idle", "evicted", "manual", "error"};

// The longest model_id, base_model and worker_id, in bytes.
inline constexpr size_t kMaxModelIdLength = 256;

// Whether `id` can name a model (a model_id or base_model, or a name a
// generation uses): 1 to kMaxModelIdLength bytes of UTF-8 without control
// characters (U+0000..U+001F, U+007F..U+009F).
bool is_model_id(std::string_view id);

// A validated event. Strings are UTF-8 without control characters; model_id
// and base_model are ids as generation events name models (their
// model_checkpoint, or the names in their params).
struct ModelEvent {
  std::string event_id;  // idempotency key, canonical UUID
  ModelEventType event_type = ModelEventType::kLoad;
  std::string model_id;
  int64_t timestamp_us = 0;  // microseconds since the Unix epoch, UTC
  std::optional<int64_t> duration_ms;    // load, download or check time; >= 0
  std::optional<bool> success;           // absent: successful
  std::optional<std::string> error_type;
  std::optional<std::string> error_message;
  std::optional<int64_t> size_bytes;     // on disk; >= 0
  std::optional<int64_t> gpu_memory_mb;  // VRAM when loaded; >= 0
  std::optional<std::string> model_kind; // one of kModelKinds
  std::optional<std::string> base_model; // what a LoRA (or VAE, ControlNet) applies to
  std::optional<std::string> reason;     // unload: one of kUnloadReasons
  std::optional<std::string> worker_id;  // the GPU worker; loaded state is per worker

  // An event that did not fail: success absent or true.
  bool succeeded() const { return success.value_or(true); }
};

}  // namespace genalytics
