// Model lifecycle events (seed 003, issue 10) as an event kind (event_kind.h).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/event_kind.h"
#include "event/model_decoder.h"
#include "event/model_event.h"
#include "event/model_stream_fields.h"

namespace genalytics {

struct ModelKind {
  using Event = ModelEvent;
  static constexpr std::string_view kName = "model_usage_events";
  static constexpr std::string_view kWorkerStatusKey = "model_worker";
  // The path of the API endpoint that ingests this kind (server/api.h).
  static constexpr std::string_view kIngestPath = "/api/v1/events/model";

  static DecodedModelBatch decode_body(std::string_view body, bool ndjson, int64_t now_us,
                                       const EventDecodeOptions& options) {
    return decode_model_body(body, ndjson, now_us, options.limits);
  }
  static bool decode(const boost::json::value& json, int64_t now_us,
                     const EventDecodeOptions& options, Event* event,
                     std::vector<FieldError>* errors) {
    return decode_model_event(json, now_us, options.limits, event, errors);
  }
  static boost::json::object from_stream_fields(std::span<const StreamField> fields,
                                                std::vector<FieldError>* errors,
                                                const boost::json::storage_ptr& storage) {
    return model_fields_to_json(fields, errors, storage);
  }
  static std::vector<std::pair<std::string, std::string>> to_stream_fields(const Event& event) {
    return genalytics::to_stream_fields(event);
  }
};

}  // namespace genalytics
