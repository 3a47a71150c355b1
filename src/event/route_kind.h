// Route events (seed 002) as an event kind (event_kind.h).
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
#include "event/route_decoder.h"
#include "event/route_event.h"
#include "event/route_stream_fields.h"

namespace genalytics {

struct RouteKind {
  using Event = RouteEvent;
  static constexpr std::string_view kName = "route_analytics";
  static constexpr std::string_view kWorkerStatusKey = "route_worker";
  // The path of the API endpoint that ingests this kind (server/api.h).
  static constexpr std::string_view kIngestPath = "/api/v1/events/route";

  static DecodedRouteBatch decode_body(std::string_view body, bool ndjson, int64_t now_us,
                                       const EventDecodeOptions& options) {
    return decode_route_body(body, ndjson, now_us, options.limits, options.normalization);
  }
  static bool decode(const boost::json::value& json, int64_t now_us,
                     const EventDecodeOptions& options, Event* event,
                     std::vector<FieldError>* errors) {
    return decode_route_event(json, now_us, options.limits, options.normalization, event, errors);
  }
  static boost::json::object from_stream_fields(std::span<const StreamField> fields,
                                                std::vector<FieldError>* errors,
                                                const boost::json::storage_ptr& storage) {
    return route_fields_to_json(fields, errors, storage);
  }
  static std::vector<std::pair<std::string, std::string>> to_stream_fields(const Event& event) {
    return genalytics::to_stream_fields(event);
  }
};

}  // namespace genalytics
