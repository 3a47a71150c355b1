#include "event/model_uses.h"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <iterator>
#include <optional>

#include "event/json_fields.h"
#include "event/json_writer.h"
#include "event/model_event.h"

namespace genalytics {
namespace {

namespace json = boost::json;

// Params are parsed into this much stack first: a typical object (a few
// hundred bytes of text) then costs no heap allocation.
constexpr size_t kParseBufferBytes = 4096;

// Nesting deeper than this makes params text unreadable here, so that
// hostile text cannot exhaust the stack.
constexpr size_t kMaxDepth = 64;

// The params keys that name models, the role they give, and whether they
// may hold a list.
struct ModelKey {
  std::string_view key;
  ModelRole role;
  bool list;
};
constexpr ModelKey kModelKeys[] = {
    {"lora", ModelRole::kLora, true},
    {"loras", ModelRole::kLora, true},
    {"vae", ModelRole::kVae, false},
    {"controlnet", ModelRole::kControlnet, true},
};

// Whether `text` may hold a model key: it spells one, or has an escape
// (a key may be spelled "\u006cora"). Most params name no model beyond the
// checkpoint; this spares them the parse.
bool may_name_models(std::string_view text) {
  if (text.find('\\') != std::string_view::npos) return true;
  return std::any_of(std::begin(kModelKeys), std::end(kModelKeys), [text](const ModelKey& key) {
    return text.find(key.key) != std::string_view::npos;
  });
}

const ModelKey* find_model_key(std::string_view key) {
  for (const ModelKey& model_key : kModelKeys) {
    if (model_key.key == key) return &model_key;
  }
  return nullptr;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpace) + 1 - begin);
}

// Params text parsed into a stack buffer (the heap only beyond it). Never
// throws but for memory exhaustion.
class ParsedParams {
 public:
  explicit ParsedParams(std::string_view text)
      : resource_(buffer_, sizeof(buffer_)), value_(parse(text, &resource_)) {}
  ParsedParams(const ParsedParams&) = delete;
  ParsedParams& operator=(const ParsedParams&) = delete;

  // The params object; nullptr when the text is not one JSON object
  // (malformed, not UTF-8, a lone surrogate escape, nested deeper than
  // kMaxDepth, or another value).
  const json::object* object() const { return value_.if_object(); }

 private:
  // The value `text` holds, allocated from `resource`; null when the text is
  // not JSON.
  static json::value parse(std::string_view text, json::monotonic_resource* resource) {
    json::parse_options options;
    options.max_depth = kMaxDepth;
    json::error_code error;
    json::value value = json::parse(text, error, json::storage_ptr(resource), options);
    if (error) return json::value(json::storage_ptr(resource));
    return value;
  }

  // Declared in this order, which is the order of construction.
  unsigned char buffer_[kParseBufferBytes];
  json::monotonic_resource resource_;  // over buffer_
  json::value value_;                  // allocated from resource_
};

// A model reference: a string, or an object with a string "name", "model"
// or "id" member (preferred in that order). Calls `found(id)` with the id
// trimmed when it is_model_id.
template <typename Found>
void read_reference(const json::value& value, Found&& found) {
  const json::string* id = value.if_string();
  if (const json::object* object = value.if_object()) {
    for (std::string_view key : {"name", "model", "id"}) {
      const json::value* member = object->if_contains(key);
      if (member != nullptr && member->is_string()) {
        id = &member->get_string();
        break;
      }
    }
  }
  if (id == nullptr) return;
  const std::string_view trimmed = trim(view(*id));
  if (is_model_id(trimmed)) found(trimmed);
}

// The value of a model key: one reference, or for a list key an array of
// them.
template <typename Found>
void read_references(const json::value& value, const ModelKey& key, Found&& found) {
  const json::array* array = key.list ? value.if_array() : nullptr;
  if (array == nullptr) return read_reference(value, found);
  for (const json::value& element : *array) read_reference(element, found);
}

// A string, number or boolean as its param value text (numbers as
// serialize_json prints them, the text then kept in `number`); nullopt for
// any other value and for numbers beyond double's range.
std::optional<std::string_view> scalar_text(const json::value& value, std::string* number) {
  switch (value.kind()) {
    case json::kind::string:
      return view(value.get_string());
    case json::kind::bool_:
      return value.get_bool() ? "true" : "false";
    case json::kind::int64:
      *number = std::to_string(value.get_int64());
      return *number;
    case json::kind::uint64:
      *number = std::to_string(value.get_uint64());
      return *number;
    case json::kind::double_:
      if (!std::isfinite(value.get_double())) return std::nullopt;  // 1e400
      number->clear();
      append_json_double(value.get_double(), number);
      return *number;
    default:
      return std::nullopt;
  }
}

// models_used of the checkpoint and of the parsed params object (nullptr:
// none).
std::vector<ModelUse> uses_of(const std::optional<std::string>& model_checkpoint,
                              const json::object* params) {
  std::vector<ModelUse> uses;
  const auto add = [&uses](std::string_view id, ModelRole role) {
    if (uses.size() >= kMaxModelsPerGeneration) return;
    if (std::any_of(uses.begin(), uses.end(),
                    [id](const ModelUse& use) { return use.model_id == id; })) {
      return;
    }
    uses.push_back(ModelUse{std::string(id), role});
  };
  if (model_checkpoint) {
    const std::string_view id = trim(*model_checkpoint);
    if (is_model_id(id)) add(id, ModelRole::kCheckpoint);
  }
  if (params == nullptr) return uses;
  // In kModelKeys' order, not the text's: PostgreSQL's JSONB reorders keys
  // (shorter first), and both stores must read the same uses.
  for (const ModelKey& model_key : kModelKeys) {
    if (const json::value* references = params->if_contains(model_key.key)) {
      read_references(*references, model_key,
                      [&](std::string_view id) { add(id, model_key.role); });
    }
  }
  return uses;
}

// for_each_param over the parsed params object.
template <typename Visit>
void visit_params(const json::object& params, Visit&& visit) {
  size_t keys = 0;
  std::string number;
  // In key order, not the text's: PostgreSQL's JSONB reorders keys (shorter
  // first), and both stores must keep the same first kMaxParamsPerEvent.
  std::vector<const json::key_value_pair*> members;
  members.reserve(params.size());
  for (const json::key_value_pair& member : params) members.push_back(&member);
  std::sort(members.begin(), members.end(),
            [](const json::key_value_pair* a, const json::key_value_pair* b) {
              return a->key() < b->key();
            });
  for (const json::key_value_pair* pointer : members) {
    const json::key_value_pair& member = *pointer;
    if (keys == kMaxParamsPerEvent) break;
    const std::string_view key = member.key();
    if (key.empty() || key.size() > kMaxParamValueLength ||
        key.find('\0') != std::string_view::npos) {
      continue;
    }
    size_t values = 0;
    const auto emit = [&](std::optional<std::string_view> text) {
      if (!text || values == kMaxModelsPerGeneration ||
          text->find('\0') != std::string_view::npos) {
        return;
      }
      ++values;
      visit(key, truncate_utf8(*text, kMaxParamValueLength));
    };
    if (const ModelKey* model_key = find_model_key(key)) {
      // The ids as models_used reads them: distinct within the key.
      std::vector<std::string_view> ids;
      read_references(member.value(), *model_key, [&](std::string_view id) {
        if (std::find(ids.begin(), ids.end(), id) != ids.end()) return;
        ids.push_back(id);
        emit(id);
      });
    } else if (const json::array* array = member.value().if_array()) {
      for (const json::value& element : *array) emit(scalar_text(element, &number));
    } else {
      emit(scalar_text(member.value(), &number));
    }
    if (values > 0) ++keys;
  }
}

}  // namespace

std::string_view model_kind_of(ModelRole role) {
  switch (role) {
    case ModelRole::kCheckpoint:
      return "checkpoint";
    case ModelRole::kLora:
      return "lora";
    case ModelRole::kVae:
      return "vae";
    case ModelRole::kControlnet:
      return "controlnet";
  }
  return "other";
}

std::vector<ModelUse> models_used(const GenerationEvent& event) {
  return models_used(event.model_checkpoint, event.params_json);
}

std::vector<ModelUse> models_used(const std::optional<std::string>& model_checkpoint,
                                  const std::optional<std::string>& params_json) {
  if (!params_json || !may_name_models(*params_json)) return uses_of(model_checkpoint, nullptr);
  ParsedParams parsed(*params_json);
  return uses_of(model_checkpoint, parsed.object());
}

void for_each_param(
    std::string_view params_json,
    const std::function<void(std::string_view key, std::string_view value)>& visit) {
  ParsedParams parsed(params_json);
  if (parsed.object() != nullptr) visit_params(*parsed.object(), visit);
}

GenerationModels read_generation_models(const GenerationEvent& event, bool with_params) {
  GenerationModels models;
  if (!with_params || !event.params_json) {
    models.uses = models_used(event);
    return models;
  }
  ParsedParams parsed(*event.params_json);
  models.uses = uses_of(event.model_checkpoint, parsed.object());
  if (parsed.object() != nullptr) {
    visit_params(*parsed.object(), [&models](std::string_view key, std::string_view value) {
      models.params.emplace_back(key, value);
    });
  }
  return models;
}

}  // namespace genalytics
