// Fuzzes the decoders of the flat Redis stream entries that applications may
// XADD themselves: fields_to_json (generation events) and
// route_fields_to_json (route events), each followed by the event decoder, as
// StreamWorker runs them.
// Input: one flags byte (bit 0: a route entry, else a generation entry), then
// the entry's field/value pairs separated by NUL bytes
// ("event_type\0request\0generation_id\0..."); a field without a value gets "".
// Invariants: an accepted entry's text is UTF-8, as the stores and the JSON
// answers need; it gives back an identical event through its own flat fields
// (to_stream_fields, then the same decoders).
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "event/generation_decoder.h"
#include "event/route_decoder.h"
#include "event/route_stream_fields.h"
#include "event/stream_fields.h"
#include "fuzz_support.h"

namespace {

using genalytics::fuzz::check;
using genalytics::fuzz::kFuzzNowUs;
using OwnedFields = std::vector<std::pair<std::string, std::string>>;

std::vector<genalytics::StreamField> as_fields(const OwnedFields& owned) {
  std::vector<genalytics::StreamField> fields;
  for (const auto& [name, value] : owned) fields.emplace_back(name, value);
  return fields;
}

// The entry decoded as StreamWorker decodes it, or false.
template <typename Event, typename ToJson, typename Decode>
bool decode_entry(const std::vector<genalytics::StreamField>& fields, ToJson to_json,
                  Decode decode, Event* event) {
  std::vector<genalytics::FieldError> errors;
  const boost::json::object json = to_json(fields, &errors);
  if (!errors.empty()) return false;
  return decode(boost::json::value(json), event, &errors);
}

template <typename Event, typename ToJson, typename Decode>
void check_entry(const std::vector<genalytics::StreamField>& fields, ToJson to_json, Decode decode) {
  Event event;
  if (!decode_entry(fields, to_json, decode, &event)) return;
  // Stores and answers are UTF-8 (PostgreSQL rejects other bytes in text).
  check(genalytics::fuzz::is_utf8(boost::json::serialize(genalytics::to_json(event))),
        "an accepted entry holds text that is not UTF-8");
  const OwnedFields flat = genalytics::to_stream_fields(event);
  Event again;
  check(decode_entry(as_fields(flat), to_json, decode, &again),
        "a decoded entry's own flat fields do not decode");
  check(genalytics::to_stream_fields(again) == flat, "a decoded entry decodes again differently");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool route = (data[0] & 1) != 0;
  const auto parts = genalytics::fuzz::split(genalytics::fuzz::as_text(data + 1, size - 1), '\0');
  std::vector<genalytics::StreamField> fields;
  for (size_t i = 0; i < parts.size(); i += 2) {
    fields.emplace_back(parts[i], i + 1 < parts.size() ? parts[i + 1] : std::string_view());
  }
  const genalytics::DecodeLimits limits;
  if (route) {
    const genalytics::RouteNormalization normalization;
    check_entry<genalytics::RouteEvent>(
        fields,
        [](const auto& f, auto* errors) { return genalytics::route_fields_to_json(f, errors); },
        [&](const boost::json::value& json, genalytics::RouteEvent* event, auto* errors) {
          return genalytics::decode_route_event(json, kFuzzNowUs, limits, normalization, event,
                                                errors);
        });
  } else {
    check_entry<genalytics::GenerationEvent>(
        fields, [](const auto& f, auto* errors) { return genalytics::fields_to_json(f, errors); },
        [&](const boost::json::value& json, genalytics::GenerationEvent* event, auto* errors) {
          return genalytics::decode_generation_event(json, kFuzzNowUs, limits, event, errors);
        });
  }
  return 0;
}
