// Fuzzes decode_model_body, the ingest edge of POST /api/v1/events/model:
// one JSON object, an array, or NDJSON; and the readers of a generation's
// params (models_used, for_each_param), which run on every stored
// generation event and on stored text read back.
// Input: one flags byte (bit 0: the request said NDJSON), then the body,
// which is also the params text (and, up to its first '{', the checkpoint).
// Invariants: the rejections (check_rejections, fuzz_support.h) are listed by
// increasing index, each with its errors, no more than the limit, and
// counted at least as often as listed; every accepted event re-encodes
// (to_json, as JSON text and back) to an identical event. The models used
// are distinct model ids (is_model_id, trimmed), at most
// kMaxModelsPerGeneration, the checkpoint first; params keys and values are
// UTF-8 within their bounds, at most kMaxParamsPerEvent keys.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "event/json_fields.h"
#include "event/model_decoder.h"
#include "event/model_uses.h"
#include "fuzz_support.h"

namespace {

using genalytics::fuzz::check;

void check_body(std::string_view body, bool ndjson) {
  genalytics::DecodeLimits limits;
  limits.max_events_per_body = 64;  // reachable by a small input
  limits.max_rejected_listed = 8;

  const genalytics::DecodedModelBatch batch =
      genalytics::decode_model_body(body, ndjson, genalytics::fuzz::kFuzzNowUs, limits);
  genalytics::fuzz::check_rejections(batch.rejected, limits);
  check(batch.events.size() <= limits.max_events_per_body, "more events than the limit");

  for (const genalytics::ModelEvent& event : batch.events) {
    check(genalytics::is_model_id(event.model_id), "an accepted model_id is not a model id");
    check(!event.reason || event.event_type == genalytics::ModelEventType::kUnload,
          "a reason on an event other than an unload");
    const boost::json::object json = genalytics::to_json(event);
    boost::json::error_code error;
    const boost::json::value reparsed = boost::json::parse(boost::json::serialize(json), error);
    check(!error, "an accepted event's JSON text does not parse");
    genalytics::ModelEvent again;
    std::vector<genalytics::FieldError> errors;
    check(genalytics::decode_model_event(reparsed, genalytics::fuzz::kFuzzNowUs, limits, &again,
                                         &errors),
          "an accepted event does not decode again");
    check(genalytics::to_json(again) == json, "an accepted event decodes again differently");
  }
}

void check_params(std::string_view text) {
  const size_t brace = text.find('{');
  const std::optional<std::string> checkpoint{std::string(text.substr(0, brace))};
  const std::optional<std::string> params{std::string(text)};
  const std::vector<genalytics::ModelUse> uses = genalytics::models_used(checkpoint, params);
  check(uses.size() <= genalytics::kMaxModelsPerGeneration, "more models than the cap");
  std::set<std::string> ids;
  for (size_t i = 0; i < uses.size(); ++i) {
    const std::string& id = uses[i].model_id;
    check(genalytics::is_model_id(id), "a model used is not a model id");
    check(id.front() != ' ' && id.back() != ' ', "a model id is not trimmed");
    check(ids.insert(id).second, "a model is used twice");
    check(i == 0 || uses[i].role != genalytics::ModelRole::kCheckpoint,
          "a checkpoint after the first model");
  }

  std::set<std::string> keys;
  genalytics::for_each_param(text, [&](std::string_view key, std::string_view value) {
    check(!key.empty() && key.size() <= genalytics::kMaxParamValueLength, "a key out of bounds");
    check(value.size() <= genalytics::kMaxParamValueLength, "a value out of bounds");
    check(genalytics::is_utf8(key) && genalytics::is_utf8(value), "a param is not UTF-8");
    check(value.find('\0') == std::string_view::npos, "a value holds NUL");
    keys.insert(std::string(key));
  });
  check(keys.size() <= genalytics::kMaxParamsPerEvent, "more params keys than the cap");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body = genalytics::fuzz::as_text(data + 1, size - 1);
  check_body(body, (data[0] & 1) != 0);
  check_params(body);
  return 0;
}
