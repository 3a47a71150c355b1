// The Redis streams of the production pipeline, one per event kind
// (event/event_batch.h): the stream producers append to,
// `{ns}:<kind name>:stream`, and the dead-letter stream StreamWorker moves
// invalid entries to, `{ns}:<kind name>:dead` -- e.g.
// `genalytics:generation_events:stream`, `genalytics:route_analytics:dead`.
// Every kind has a flat field form (the kind's stream codec) and shares the
// consumer group.
#pragma once

#include <string>
#include <string_view>

#include "event/event_batch.h"

namespace genalytics {

inline constexpr std::string_view kDefaultStreamNamespace = "genalytics";

inline std::string stream_key(EventKind kind, std::string_view ns) {
  std::string key(ns);
  key.append(":").append(event_kind_name(kind)).append(":stream");
  return key;
}
inline std::string dead_letter_key(EventKind kind, std::string_view ns) {
  std::string key(ns);
  key.append(":").append(event_kind_name(kind)).append(":dead");
  return key;
}

}  // namespace genalytics
