// The project's event kinds, in one list, and the kind-tagged batches that
// carry their events through sinks, queues, streams, workers and stores.
// Adding a kind: describe it in its own header (event_kind.h says how) and
// add it to EventKinds; nothing else in this layer changes.
#pragma once

#include <cstddef>
#include <string_view>
#include <variant>

#include "event/event_kind.h"
#include "event/generation_kind.h"
#include "event/model_kind.h"
#include "event/route_kind.h"

namespace genalytics {

using EventKinds = KindList<GenerationKind, RouteKind, ModelKind>;  // one entry per kind

// Events of one kind: a std::vector of the kind's Event.
using EventBatch = EventKinds::Batch;
// A view of events of one kind; a vector or span of a kind's events converts
// to it implicitly.
using EventSpan = EventKinds::Span;

inline constexpr std::array<EventKind, EventKinds::kCount> kEventKinds = EventKinds::all();

// The EventKind of `Kind`, e.g. event_kind<RouteKind>().
template <typename Kind>
constexpr EventKind event_kind() {
  return EventKinds::kind<Kind>();
}
inline EventKind event_kind(const EventBatch& batch) {
  return static_cast<EventKind>(batch.index());
}
inline EventKind event_kind(const EventSpan& events) {
  return static_cast<EventKind>(events.index());
}

// The kind's kName: "generation_events", "route_analytics", "model_usage_events".
inline std::string_view event_kind_name(EventKind kind) {
  return EventKinds::kNames[static_cast<size_t>(kind)];
}

// The kind description of a batch's events, inside std::visit:
//   std::visit([](auto& events) { using Kind = KindOfEvents<decltype(events)>; ... }, batch)
template <typename Events>
using KindOfEvents = EventKinds::KindOfEvent<typename std::remove_cvref_t<Events>::value_type>;

inline size_t event_count(const EventBatch& batch) {
  return std::visit([](const auto& events) { return events.size(); }, batch);
}
inline size_t event_count(const EventSpan& events) {
  return std::visit([](const auto& span) { return span.size(); }, events);
}

// A view of all of `batch`.
inline EventSpan as_span(const EventBatch& batch) {
  return std::visit([](const auto& events) -> EventSpan { return std::span(events); }, batch);
}

// Events [offset, offset + count) of `events`. REQUIRES: within it.
inline EventSpan subspan(const EventSpan& events, size_t offset, size_t count) {
  return std::visit([&](auto span) -> EventSpan { return span.subspan(offset, count); }, events);
}

}  // namespace genalytics
