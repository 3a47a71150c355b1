// Which models a generation event uses, and which parameters it names: a
// generation is a use of its model_checkpoint and of every model its params
// name (`lora` or `loras`, `vae`, `controlnet`), which is how LoRAs and their
// base models are seen used together (issue 10). Reads the stored params
// JSON into a document on a stack buffer (an ordinary params object costs
// no heap allocation); never throws on any params text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/generation_event.h"

namespace genalytics {

// How a generation names a model, which says its kind when nothing else does.
enum class ModelRole : uint8_t { kCheckpoint, kLora, kVae, kControlnet };

// "checkpoint", "lora", "vae", "controlnet": the model_kind a role implies.
std::string_view model_kind_of(ModelRole role);

// At most this many models per generation (checkpoint included): the rest
// of a params list is ignored, so one event cannot add hundreds of rows.
inline constexpr size_t kMaxModelsPerGeneration = 16;
// At most this many params keys per event are rolled up as common params,
// each value cut to kMaxParamValueLength bytes (at a UTF-8 boundary).
inline constexpr size_t kMaxParamsPerEvent = 16;
inline constexpr size_t kMaxParamValueLength = 64;

struct ModelUse {
  std::string model_id;
  ModelRole role = ModelRole::kCheckpoint;
  bool operator==(const ModelUse&) const = default;
};

// The models `event` names, distinct by id, the checkpoint first, then by
// key in this order (whatever the order of the text, which PostgreSQL's
// JSONB changes): `lora` (a string, an array of strings, or objects with a
// string "name", "model" or "id"), `loras` (the same), `vae` (a string or
// such an object), `controlnet` (a string, an object or an array of either).
// Ids are trimmed of surrounding whitespace; those that are not
// is_model_id (event/model_event.h: empty, longer than kMaxModelIdLength,
// not valid UTF-8, control characters) are skipped. Params text that is not
// one JSON object (UTF-8, nested at most 64 deep) names no model. At most
// kMaxModelsPerGeneration.
std::vector<ModelUse> models_used(const GenerationEvent& event);
// The same from the parts that matter, for readers of stored rows.
std::vector<ModelUse> models_used(const std::optional<std::string>& model_checkpoint,
                                  const std::optional<std::string>& params_json);

// Calls `visit(key, value)` for the first kMaxParamsPerEvent keys, in byte
// order of the key (not the text's), of the params object `params_json`
// whose value is a string, number or boolean
// (its text: strings as they are, numbers as serialize_json prints them
// (event/json_writer.h) so that 7.5E0 and 7.5 are one value, true/false;
// numbers beyond double's range are skipped),
// or an array of those (once per element, at most kMaxModelsPerGeneration),
// or for lora/loras/vae/controlnet the model ids models_used reads from
// them (distinct). Values are cut to kMaxParamValueLength bytes. Objects
// and nulls are skipped, as are keys that are empty or longer than
// kMaxParamValueLength bytes, and values holding NUL; a key counts toward
// kMaxParamsPerEvent when it visits a value. Does nothing for text that is
// not one JSON object (as models_used reads it). The views are valid during
// the call to `visit` only.
void for_each_param(std::string_view params_json,
                    const std::function<void(std::string_view key, std::string_view value)>& visit);

// What a generation event names, read with one parse of its params.
struct GenerationModels {
  std::vector<ModelUse> uses;  // models_used(event)
  // (key, value) in the order for_each_param visits them; empty unless asked for.
  std::vector<std::pair<std::string, std::string>> params;
};

// models_used(event) and, when `with_params`, for_each_param over its
// params_json: what a rollup of the event needs, without parsing the params
// twice.
GenerationModels read_generation_models(const GenerationEvent& event, bool with_params);

}  // namespace genalytics
