// The Redis streams of the production pipeline, one per kind of event: the
// stream producers append to, and the dead-letter stream StreamWorker moves
// invalid entries to. Both kinds share the flat field form (event/
// stream_fields.h, event/route_stream_fields.h) and the consumer group.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace genalytics {

inline constexpr std::string_view kDefaultStreamNamespace = "genalytics";

enum class StreamKind : uint8_t {
  kGeneration,  // GenerationEvent: `{ns}:generation_events:stream`
  kRoute,       // RouteEvent (seed 002): `{ns}:route_analytics:stream`
};

inline constexpr std::array<StreamKind, 2> kStreamKinds = {StreamKind::kGeneration,
                                                           StreamKind::kRoute};

// The middle part of the kind's keys, also its name in the pipeline status:
// "generation_events" or "route_analytics" (the seeds' table names).
inline std::string_view stream_name(StreamKind kind) {
  return kind == StreamKind::kRoute ? "route_analytics" : "generation_events";
}

inline std::string stream_key(StreamKind kind, std::string_view ns) {
  std::string key(ns);
  key.append(":").append(stream_name(kind)).append(":stream");
  return key;
}
inline std::string dead_letter_key(StreamKind kind, std::string_view ns) {
  std::string key(ns);
  key.append(":").append(stream_name(kind)).append(":dead");
  return key;
}

inline std::string generation_stream_key(std::string_view ns) {
  return stream_key(StreamKind::kGeneration, ns);
}
inline std::string generation_dead_letter_key(std::string_view ns) {
  return dead_letter_key(StreamKind::kGeneration, ns);
}
inline std::string route_stream_key(std::string_view ns) {
  return stream_key(StreamKind::kRoute, ns);
}
inline std::string route_dead_letter_key(std::string_view ns) {
  return dead_letter_key(StreamKind::kRoute, ns);
}

}  // namespace genalytics
